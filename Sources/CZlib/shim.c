#include "CZlib.h"
int berth_inflate_init_gzip(z_stream *s) { return inflateInit2(s, 16 + MAX_WBITS); }
int berth_deflate_init_gzip(z_stream *s, int level) {
    return deflateInit2(s, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
}
