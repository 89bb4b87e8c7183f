/* What `image` prints about a file it wrote; convert prints the same. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "qcow2-layout.h"

/* PATH written with LAYOUT, ACTUAL bytes allocated on disk. */
JsonNode *vp_image_report_json(const char *path,
                               const VpQcow2Layout *layout,
                               guint64 actual);
void vp_image_report_human(const char *path,
                           const VpQcow2Layout *layout, guint64 actual);
