/* parse_state.h: state shared by lexer.l and parser.y. */
#ifndef GENC_PARSE_STATE_H
#define GENC_PARSE_STATE_H

#include "genc.h"

struct lex_state {
    int line, col;
    const char *bad;      /* message of the last BAD token */
    VEC(struct loc) open; /* where each unclosed '{' began, for hints at EOF */
};

struct parse_state {
    void *scanner;
    struct lex_state *lex;
    struct ast *ast;
};

#endif
