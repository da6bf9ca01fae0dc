#ifndef BERTH_CZLIB_H
#define BERTH_CZLIB_H
#include <zlib.h>
/* deflateInit2/inflateInit2 are macros; Swift needs functions. windowBits 16+15 selects gzip. */
int berth_inflate_init_gzip(z_stream *s);
int berth_deflate_init_gzip(z_stream *s, int level);
#endif
