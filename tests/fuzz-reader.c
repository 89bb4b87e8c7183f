/* libFuzzer harness: the qcow2 reader on arbitrary bytes.  Everything an
 * image can make the reader do — open, count the mapping, full check — must
 * end cleanly under ASan and UBSan, whatever the bytes. */
#include <stddef.h>
#include <stdint.h>

#include "qcow2-reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    VpMemSource src = { data, size };
    g_autoptr(VpQcow2Image) img = vp_qcow2_image_open(vp_read_mem, &src, size,
                                                      "fuzz", NULL);
    guint64 mapped;
    gboolean complete;
    g_autoptr(GArray) runs = g_array_new(FALSE, FALSE, sizeof(VpRange));
    g_auto(VpQcow2Check) result = { 0 };

    if (img == NULL) {
        return 0;
    }
    (void)vp_qcow2_image_count_mapped(img, &mapped, runs, 1000, &complete,
                                      NULL);
    (void)vp_qcow2_image_check(img, &result, NULL);
    return 0;
}
