/* ast.c: parsing driver and the AST dump. */
#include "genc.h"
#include "parse_state.h"
#include "parser.h"
#include "lexer.h"

#include <string.h>

bool parse_source(const struct source *src, struct ast *out) {
    struct lex_state lex = {.line = 1, .col = 1};
    struct parse_state ps = {.lex = &lex, .ast = out};
    *out = (struct ast){0};
    int before = diag_error_count();
    if (yylex_init_extra(&lex, &ps.scanner))
        unreachable();
    YY_BUFFER_STATE b = yy_scan_bytes(src->text, (int)src->len, ps.scanner);
    int rc = yyparse(ps.scanner, &ps);
    yy_delete_buffer(b, ps.scanner);
    yylex_destroy(ps.scanner);
    if (rc == 2) {
        error_plain("out of memory while parsing");
        return false;
    }
    return rc == 0 && diag_error_count() == before;
}

void dump_tokens(FILE *f, const struct source *src) {
    struct lex_state lex = {.line = 1, .col = 1};
    void *scanner;
    if (yylex_init_extra(&lex, &scanner))
        unreachable();
    YY_BUFFER_STATE b = yy_scan_bytes(src->text, (int)src->len, scanner);
    YYSTYPE val;
    YYLTYPE loc;
    int t;
    while ((t = yylex(&val, &loc, scanner)) != 0) {
        fprintf(f, "%d:%d ", loc.first_line, loc.first_column);
        switch (t) {
        case IDENT: fprintf(f, "ident %s\n", val.str); break;
        case STRING: fprintf(f, "string \"%s\"\n", val.str); break;
        case NUMBER: fprintf(f, "number %s\n", val.num.text); break;
        case BAD: fprintf(f, "bad (%s)\n", val.str); break;
        default:
            if (t < 256)
                fprintf(f, "punct '%c'\n", t);
            else
                fprintf(f, "keyword %s\n", yyget_text(scanner));
        }
    }
    yy_delete_buffer(b, scanner);
    yylex_destroy(scanner);
}

static void dump_args(FILE *f, const arg_vec *args) {
    for (int i = 0; i < args->len; i++) {
        const struct arg *a = &args->data[i];
        switch (a->kind) {
        case ARG_NUM: fprintf(f, " %s", a->text); break;
        case ARG_IDENT: fprintf(f, " %s", a->text); break;
        case ARG_STR: fprintf(f, " \"%s\"", a->text); break;
        case ARG_SHAPE: fprintf(f, " %s", shape_str(a->shape)); break;
        }
    }
}

static void dump_body(FILE *f, const stmt_vec *body, int depth) {
    for (int j = 0; j < body->len; j++) {
        const struct stmt *s = &body->data[j];
        fprintf(f, "\n%*s(%s @%d:%d", 2 * depth, "", s->name, s->loc.line, s->loc.col);
        dump_args(f, &s->args);
        dump_body(f, &s->body, depth + 1);
        fprintf(f, ")");
    }
}

void ast_dump(FILE *f, const struct ast *ast) {
    static const char *kinds[] = {"model", "data", "latent", "network", "objective", "optimize", "train", "augment"};
    for (int i = 0; i < ast->decls.len; i++) {
        const struct decl *d = &ast->decls.data[i];
        fprintf(f, "(%s @%d:%d", kinds[d->kind], d->loc.line, d->loc.col);
        if (d->name)
            fprintf(f, " name=%s", d->name);
        if (d->domain)
            fprintf(f, " domain=%s", d->domain);
        if (d->kind_name)
            fprintf(f, " kind=%s", d->kind_name);
        if (d->kind == DECL_NETWORK)
            fprintf(f, " in=%s out=%s", shape_str(d->in), shape_str(d->out));
        if (d->args.len) {
            fprintf(f, " args=(");
            dump_args(f, &d->args);
            fprintf(f, " )");
        }
        dump_body(f, &d->body, 1);
        fprintf(f, ")\n");
    }
}
