#include "error.h"

G_DEFINE_QUARK(vp-error-quark, vp_error)
