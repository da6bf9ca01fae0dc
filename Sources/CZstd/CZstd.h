#ifndef BERTH_CZSTD_H
#define BERTH_CZSTD_H
/* libzstd (Debian: libzstd-dev). Only streaming decompression is used. */
#include <zstd.h>
#endif
