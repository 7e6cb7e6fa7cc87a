/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dmp: every difference between the kernels dmp builds on (Linux 6.1 to
 * the newest), in one place.  Each entry names the upstream change and
 * the first version that has it.  Features are recognised in the headers,
 * by their own macros or by probes that Kbuild runs on the headers
 * (DMP_HAVE_*), not by version numbers: distributions backport changes.
 *
 * Differences that need no code, for the record:
 * - dm_get_device() takes a blk_mode_t (05bdb9965305, 6.5): dmp passes
 *   dm_table_get_mode() through, whatever its type.
 * - ti->flush_bypasses_map (aaa53168cbcc "dm: optimize flushes", 6.11):
 *   dmp leaves it false, see dmp_ctr().
 * - The host-aware zone model is gone (7437bb73f087, 6.8): dmp asks only
 *   bdev_is_zoned() and bdev_zone_sectors(), which mean "zoned" (host-aware
 *   or host-managed before 6.8, host-managed from 6.8 on) everywhere.
 */
#ifndef DMP_COMPAT_H
#define DMP_COMPAT_H

#include <linux/device-mapper.h>

/*
 * The device a table argument names, as dm_get_device() finds it:
 * dm_get_dev_t() became dm_devt_from_path(), which returns an errno (6.5,
 * in the series that removed name_to_dev_t()).
 */
static inline int dmp_devt_from_path(const char *path, dev_t *devt)
{
#ifdef DMP_HAVE_DM_DEVT_FROM_PATH
	return dm_devt_from_path(path, devt);
#else
	*devt = dm_get_dev_t(path);
	return *devt ? 0 : -ENODEV;
#endif
}

/*
 * Atomic writes (REQ_ATOMIC, 6.11) pass through a dm device only if each
 * of its targets declares them (487d1a9cb586 "dm-table: atomic writes
 * support", 6.14).  Before, there is nothing to declare.
 */
#ifndef DM_TARGET_ATOMIC_WRITES
#define DM_TARGET_ATOMIC_WRITES		0
#endif

/*
 * .prepare_ioctl gained the ioctl and *forward, which a target clears when
 * it handled the ioctl itself (4862c8861d90 "dm: Allow .prepare_ioctl to
 * handle ioctls directly", 6.16).  dmp handles none: *forward stays true
 * and every ioctl goes to the device dmp_ioctl_bdev() picks, as before.
 */
static int dmp_ioctl_bdev(struct dm_target *ti, struct block_device **bdev);

#ifdef DMP_HAVE_PREPARE_IOCTL_FORWARD
static inline int dmp_prepare_ioctl(struct dm_target *ti,
				    struct block_device **bdev,
				    unsigned int cmd, unsigned long arg,
				    bool *forward)
{
	return dmp_ioctl_bdev(ti, bdev);
}
#else
static inline int dmp_prepare_ioctl(struct dm_target *ti,
				    struct block_device **bdev)
{
	return dmp_ioctl_bdev(ti, bdev);
}
#endif

#endif /* DMP_COMPAT_H */
