#ifndef BERTH_CYAML_H
#define BERTH_CYAML_H
/* libyaml (Debian: libyaml-dev). Only its event parser is used; no shim is needed, as none of
   that API is variadic or a macro. */
#include <yaml.h>
#endif
