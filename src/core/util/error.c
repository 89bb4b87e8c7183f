/* The error domains of every layer (see error.h): one for what went wrong
 * and one for which option was wrong, so that a front end can name its own
 * spelling of the option. */
#include "error.h"

G_DEFINE_QUARK(vp-error-quark, vp_error)
G_DEFINE_QUARK(vp-option-error-quark, vp_option_error)
