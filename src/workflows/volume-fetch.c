/* info --pool POOL --volume VOL's access to the volume: in place where
 * this machine can read it, else through a download into a temporary
 * file; the CLI then reads it as it reads any image file. */
#include "volume-fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib/gi18n.h>

#include "virt.h"
#include "workflow.h"

/* A descriptor of PATH opened read-only, or -1 with ERROR set. */
static int
vp_open_in_place(const char *path, GError **error)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        int saved = errno;
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved),
                    _("cannot open '%1$s': %2$s"), path, g_strerror(saved));
    }
    return fd;
}

/* VOLUME of POOL downloaded into a new temporary file, or -1 with ERROR
 * set. */
static int
vp_download_copy(const VpRunEnv *run, VpVirt *virt, const char *pool,
                 const char *volume, GError **error)
{
    /* O_TMPFILE: the file has no name, so nothing is left behind however the
     * run ends, even when it is killed. */
    int fd = open(g_get_tmp_dir(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

    if (fd < 0) {
        int saved = errno;
        g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved),
                    _("cannot create a temporary file in '%1$s': %2$s"),
                    g_get_tmp_dir(), g_strerror(saved));
        return -1;
    }
    if (!vp_virt_volume_download(virt, pool, volume, fd, run->cancel, error)) {
        close(fd);
        return -1;
    }
    return fd;
}

gboolean
vp_volume_fetch(const VpRunEnv *run, const char *pool, const char *volume,
                int *fd, char **path, GError **error)
{
    g_auto(VpVolumeRef) ref = { 0 };

    *fd = -1;
    *path = NULL;
    g_autoptr(VpVirt) virt = vp_workflow_connect(run, FALSE, error);
    if (virt == NULL || !vp_virt_volume_by_name(virt, pool, volume, &ref, error)) {
        return FALSE;
    }
    *fd = vp_virt_is_local(virt) && access(ref.path, R_OK) == 0
              ? vp_open_in_place(ref.path, error)
              : vp_download_copy(run, virt, pool, volume, error);
    if (*fd < 0) {
        return FALSE;
    }
    *path = g_steal_pointer(&ref.path);
    return TRUE;
}
