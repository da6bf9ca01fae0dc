#ifndef BERTH_CISAL_H
#define BERTH_CISAL_H
/* Intel ISA-L (Debian: libisal-dev). Only igzip's streaming inflate is used. */
#include <isa-l/igzip_lib.h>
#endif
