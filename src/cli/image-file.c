/* An image file opened for reading, by info and check: its length, its
 * allocation and, when it is one, its qcow2 metadata. */
#include "image-file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gi18n.h>

#include "error.h"
#include "qcow2-reader.h"

gboolean
vp_image_file_open_fd(int fd, const char *name, VpImageFile *file,
                      GError **error)
{
    struct stat st;
    gboolean is_qcow2 = FALSE;

    *file = (VpImageFile){ .fd = fd };
    if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
        g_set_error(error, VP_ERROR, VP_ERROR_FAILED,
                    _("'%1$s' is a directory, not an image file"), name);
        return FALSE;
    }
    /* A block device has no size in st_size and no holes: its length is where
     * a seek to the end lands; its allocation is left at 0. */
    if (S_ISBLK(st.st_mode)) {
        off_t end = lseek(fd, 0, SEEK_END);
        file->length = end > 0 ? (guint64)end : 0;
    } else {
        file->length = (guint64)st.st_size;
        file->allocated = (guint64)st.st_blocks * 512;
    }
    /* The tool's own probe: an image's format is never taken from its name. */
    if (!vp_qcow2_probe(vp_read_fd, GINT_TO_POINTER(fd), &is_qcow2, error)) {
        return FALSE;
    }
    if (is_qcow2) {
        file->img = vp_qcow2_image_open(vp_read_fd, GINT_TO_POINTER(fd),
                                        file->length, name, error);
        return file->img != NULL;
    }
    return TRUE;
}

gboolean
vp_image_file_open(const char *path, VpImageFile *file, GError **error)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        *file = (VpImageFile){ .fd = -1 };
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
                    _("cannot open '%1$s': %2$s"), path, g_strerror(errno));
        return FALSE;
    }
    return vp_image_file_open_fd(fd, path, file, error);
}

void
vp_image_file_clear(VpImageFile *file)
{
    g_clear_pointer(&file->img, vp_qcow2_image_free);
    if (file->fd >= 0) {
        close(file->fd);
    }
    file->fd = -1;
}
