/* parser.y: the grammar of .gm specs.  Pure, with locations; builds the AST
 * (ast.c types) in the compiler's arena, so semantic values need no
 * destructors.  Errors recover at ';' inside a block and at '}' between
 * declarations, so one run reports as many as it can. */
%require "3.8"
%define api.pure full
%define parse.error custom
%locations
%expect 0
%param { void *scanner }
%parse-param { struct parse_state *ps }

%code requires {
#include "genc.h"
struct parse_state;
}

%code provides {
int yylex(YYSTYPE *lval, YYLTYPE *lloc, void *scanner);
}

%code {
static void yyerror(const YYLTYPE *loc, void *scanner, struct parse_state *ps, const char *msg);
}

%code {
#include "parse_state.h"

#include <string.h>

static struct loc L(YYLTYPE l) {
    return (struct loc){l.first_line, l.first_column, l.last_line, l.last_column};
}

static struct loc span(YYLTYPE a, YYLTYPE b) {
    return (struct loc){a.first_line, a.first_column, b.last_line, b.last_column};
}

/* A dimension as written: a whole number in [1, GENC_MAX_DIM]; 1 after an
 * error.  The range is checked before the cast, which would be undefined
 * for 1e40. */
static int dim(YYLTYPE at, double v, const char *text) {
    if (v >= 1 && v <= GENC_MAX_DIM && v == (double)(int)v)
        return (int)v;
    error_at(L(at), "a dimension must be a whole number from 1 to %d, got %s", GENC_MAX_DIM, text);
    return 1;
}

static struct decl *new_decl(struct parse_state *ps, enum decl_kind k, YYLTYPE at) {
    struct decl d = {.kind = k, .loc = L(at)};
    vec_push(&ps->ast->decls, d);
    return &ps->ast->decls.data[ps->ast->decls.len - 1];
}
}

%union {
    char *str;
    struct { double v; const char *text; } num;
    struct arg arg;
    arg_vec args;
    struct stmt stmt;
    stmt_vec stmts;
    struct shape shape;
}

%destructor { } <*>

%token MODEL "model" DATA "data" LATENT "latent" NETWORK "network"
%token OBJECTIVE "objective" OPTIMIZE "optimize" WITH "with" TRAIN "train" AUGMENT "augment"
%token ARROW "->"
%token <str> IDENT "identifier" STRING "string"
%token <num> NUMBER "number"
%token <str> BAD "bad token"

%type <arg> arg
%type <str> keyword
%type <args> args idents
%type <stmt> stmt
%type <stmts> block items
%type <shape> shape dims

%%

file:
    %empty
  | file decl
  ;

decl:
    "model" IDENT {
        struct decl *d = new_decl(ps, DECL_MODEL, @1);
        d->name = $2; d->name_loc = L(@2);
    }
  | "data" IDENT block {
        struct decl *d = new_decl(ps, DECL_DATA, @1);
        d->name = $2; d->name_loc = L(@2); d->body = $3;
    }
  | "data" IDENT IDENT block {
        struct decl *d = new_decl(ps, DECL_DATA, @1);
        d->domain = $2; d->domain_loc = L(@2);
        d->name = $3; d->name_loc = L(@3); d->body = $4;
    }
  | "latent" IDENT '~' IDENT '(' args ')' {
        struct decl *d = new_decl(ps, DECL_LATENT, @1);
        d->name = $2; d->name_loc = L(@2);
        d->kind_name = $4; d->kind_loc = L(@4); d->args = $6;
    }
  | "network" IDENT ':' shape "->" shape block {
        struct decl *d = new_decl(ps, DECL_NETWORK, @1);
        d->name = $2; d->name_loc = L(@2);
        d->in = $4; d->in_loc = L(@4); d->out = $6; d->out_loc = L(@6);
        d->body = $7;
    }
  | "objective" IDENT '(' idents ')' block {
        struct decl *d = new_decl(ps, DECL_OBJECTIVE, @1);
        d->kind_name = $2; d->kind_loc = L(@2); d->args = $4; d->body = $6;
    }
  | "objective" IDENT '(' idents ')' {
        /* without settings: `objective classifier(C)` */
        struct decl *d = new_decl(ps, DECL_OBJECTIVE, @1);
        d->kind_name = $2; d->kind_loc = L(@2); d->args = $4;
    }
  | "optimize" IDENT "with" IDENT block {
        struct decl *d = new_decl(ps, DECL_OPTIMIZE, @1);
        d->name = $2; d->name_loc = L(@2); d->kind_name = $4; d->kind_loc = L(@4);
        d->body = $5;
    }
  | "train" block {
        struct decl *d = new_decl(ps, DECL_TRAIN, @1);
        d->body = $2;
    }
  | "augment" block {
        struct decl *d = new_decl(ps, DECL_AUGMENT, @1);
        d->body = $2;
    }
  | error '}'
  ;

/* Statements are separated by ';', and the last one needs none. */
block:
    '{' items '}'       { $$ = $2; }
  | '{' items stmt '}'  { $$ = $2; vec_push(&$$, $3); }
  ;

items:
    %empty              { $$ = (stmt_vec){0}; }
  | items ';'           { $$ = $1; }
  | items stmt ';'      { $$ = $1; vec_push(&$$, $2); }
  | items error ';'     { $$ = $1; yyerrok; }
  | items IDENT args block {
        $$ = $1;
        vec_push(&$$, ((struct stmt){.name = $2, .loc = L(@2), .args = $3, .has_body = true, .body = $4}));
    }
  ;

stmt:
    IDENT args          { $$ = (struct stmt){.name = $1, .loc = L(@1), .args = $2}; }
  ;

args:
    %empty              { $$ = (arg_vec){0}; }
  | args arg            { $$ = $1; vec_push(&$$, $2); }
  ;

arg:
    NUMBER  { $$ = (struct arg){.kind = ARG_NUM, .loc = L(@1), .num = $1.v, .text = $1.text}; }
  | IDENT   { $$ = (struct arg){.kind = ARG_IDENT, .loc = L(@1), .text = $1}; }
  | keyword { $$ = (struct arg){.kind = ARG_IDENT, .loc = L(@1), .text = $1}; }
  | STRING  { $$ = (struct arg){.kind = ARG_STR, .loc = L(@1), .text = $1}; }
  | shape   { $$ = (struct arg){.kind = ARG_SHAPE, .loc = L(@1), .shape = $1}; }
  ;

/* Keywords are plain words in argument position: `split train`. */
keyword:
    "model" { $$ = "model"; } | "data" { $$ = "data"; } | "latent" { $$ = "latent"; }
  | "network" { $$ = "network"; } | "objective" { $$ = "objective"; }
  | "optimize" { $$ = "optimize"; } | "with" { $$ = "with"; } | "train" { $$ = "train"; }
  | "augment" { $$ = "augment"; }
  ;

idents:
    IDENT {
        $$ = (arg_vec){0};
        vec_push(&$$, ((struct arg){.kind = ARG_IDENT, .loc = L(@1), .text = $1}));
    }
  | idents ',' IDENT {
        $$ = $1;
        vec_push(&$$, ((struct arg){.kind = ARG_IDENT, .loc = L(@3), .text = $3}));
    }
  ;

shape:
    '[' dims ']' {
        $$ = $2;
        if (shape_size($$) > GENC_MAX_VALUES) {
            double n = 1;
            for (int i = 0; i < $$.n; i++)
                n *= $$.d[i];
            error_at(L(@$), "a shape holds at most %ld values, but this one holds %.4g", GENC_MAX_VALUES, n);
            $$ = (struct shape){1, {1}};
        }
    }
  ;

dims:
    NUMBER {
        $$ = (struct shape){0};
        $$.n = 1; $$.d[0] = dim(@1, $1.v, $1.text);
    }
  | dims ',' NUMBER {
        $$ = $1;
        int d = dim(@3, $3.v, $3.text);
        if ($$.n == MAX_DIMS)
            error_at(span(@1, @3), "a shape has at most %d dimensions", MAX_DIMS);
        else
            $$.d[$$.n++] = d;
    }
  ;

%%

/* Token names for messages: bison quotes aliases as "x"; we show 'x'. */
static const char *tok_name(yysymbol_kind_t k) {
    const char *n = yysymbol_name(k);
    size_t len = strlen(n);
    if (k == YYSYMBOL_YYEOF)
        return "end of file";
    if (len >= 2 && n[0] == '"')
        n = xstrndup(n + 1, len - 2);
    if (!strcmp(n, "identifier") || !strcmp(n, "number") || !strcmp(n, "string") || n[0] == '\'')
        return n;
    return xprintf("'%s'", n);
}

static void yyerror(const YYLTYPE *loc, void *scanner, struct parse_state *ps, const char *msg) {
    (void)scanner, (void)ps;
    error_at(L(*loc), "%s", msg);
}

/* Tokens that begin a declaration or belong to its header, never to a
 * block: 'network' (also a word in argument position), ':', '~', '(', '->'. */
static bool starts_decl(yysymbol_kind_t k) {
    switch (k) {
    case YYSYMBOL_MODEL: case YYSYMBOL_DATA: case YYSYMBOL_LATENT: case YYSYMBOL_NETWORK:
    case YYSYMBOL_OBJECTIVE: case YYSYMBOL_OPTIMIZE: case YYSYMBOL_TRAIN: case YYSYMBOL_ARROW:
        return true;
    default: {
        const char *n = yysymbol_name(k);
        return !strcmp(n, "':'") || !strcmp(n, "'~'") || !strcmp(n, "'('");
    }
    }
}

static int yyreport_syntax_error(const yypcontext_t *ctx, void *scanner, struct parse_state *ps) {
    (void)scanner;
    struct loc at = L(*yypcontext_location(ctx));
    yysymbol_kind_t got = yypcontext_token(ctx);
    if (got == YYSYMBOL_BAD) {
        /* The lexer's message; yylval of the lookahead is not reachable here,
         * so the lexer left it in the parse state. */
        error_at(at, "%s", ps->lex->bad);
        return 0;
    }
    yysymbol_kind_t exp[6];
    int n = yypcontext_expected_tokens(ctx, exp, 6);
    char *msg;
    if (got == YYSYMBOL_YYEOF && ps->lex->open.len > 0) {
        struct loc open = ps->lex->open.data[ps->lex->open.len - 1];
        error_at(at, "unterminated block: expected '}' before end of file");
        note_at(open, "the block began here");
        return 0;
    }
    msg = xprintf("unexpected %s", tok_name(got));
    if (n > 0 && n <= 5) {
        msg = xprintf("%s, expected ", msg);
        for (int i = 0; i < n; i++)
            msg = xprintf("%s%s%s", msg, i == 0 ? "" : i == n - 1 ? " or " : ", ", tok_name(exp[i]));
    }
    error_at(at, "%s", msg);
    /* A declaration's keyword or header inside a block opened on an earlier
     * line: most likely that block's '}' is missing. */
    if (ps->lex->open.len > 0 && starts_decl(got)) {
        struct loc open = ps->lex->open.data[ps->lex->open.len - 1];
        if (open.line < at.line)
            note_at(open, "the block that began here is not closed; is a '}' missing?");
    }
    return 0;
}
