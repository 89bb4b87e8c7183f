#include "error.h"

G_DEFINE_QUARK(vp-error-quark, vp_error)
G_DEFINE_QUARK(vp-option-error-quark, vp_option_error)
