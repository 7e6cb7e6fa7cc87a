// SPDX-License-Identifier: GPL-2.0
/*
 * dmp: a device-mapper proxy that passes every bio to one underlying device
 * unchanged, like dm-linear, and counts it.  The counters are per mapped
 * device and for all devices together, under /sys/module/dmp/stat/.
 *
 * Table line: <start> <length> dmp <device> [<offset>]
 */
#include <linux/blkdev.h>
#include <linux/ctype.h>
#include <linux/kstrtox.h>
#include <linux/module.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/slab.h>

#include "dmp.h"
#include "dmp_compat.h"

#define CREATE_TRACE_POINTS
#include "dmp_trace.h"

#define DM_MSG_PREFIX "dmp"

bool dmp_latency_default;
module_param_named(latency, dmp_latency_default, bool, 0644);
MODULE_PARM_DESC(latency, "Time requests on devices created from now on (default: off)");

struct dmp_target {
	struct dm_dev *dev;
	sector_t start;			/* on @dev */
	struct dmp_device *dd;
	struct dmp_pcpu __percpu *pcpu;	/* == dd->stats.pcpu */
	dev_t devt;			/* of the dmp device, for tracing */
	bool count_flush;
};

/*
 * A request's record, in its per-bio data: its start time and position,
 * for the latency statistics and the completion event, because by end_io()
 * the bio has been remapped and advanced.  Written by map() only while the
 * device times requests or the event is on; other requests leave the memory
 * alone, so each use checks its own tag: @lat_tag against the device's
 * (renewed whenever timing is switched on, see dmp_device_set_latency()),
 * @trace_tag against dmp_trace_tag.  Tags are random 64-bit values, so
 * neither an older record nor whatever else recycled per-bio memory held
 * passes for a current one.
 */
struct dmp_io {
	u64 lat_tag;
	u64 trace_tag;
	u64 start_ns;
	sector_t sector;		/* on the dmp device */
	sector_t under_sector;		/* on the device below */
	unsigned int bytes;
	pid_t pid;			/* the submitter, for tracing */
	u8 kind;			/* enum dmp_kind */
	char comm[TASK_COMM_LEN];
};

/* Renewed before the completion event is switched on (its regfunc). */
static u64 dmp_trace_tag __read_mostly;

int dmp_trace_complete_reg(void)
{
	WRITE_ONCE(dmp_trace_tag, get_random_u64());
	return 0;
}

/* A sector number: decimal digits only, no sign, no trailing junk. */
static int dmp_parse_sector(const char *arg, sector_t *sector)
{
	unsigned long long v;
	const char *p;

	for (p = arg; *p; p++)
		if (!isdigit(*p))
			return -EINVAL;
	if (kstrtoull(arg, 10, &v) || v != (sector_t)v)
		return -EINVAL;
	*sector = v;
	return 0;
}

static char *dmp_device_error(int r)
{
	switch (r) {
	case -ENODEV:
	case -ENOENT:
		return "No such block device";
	case -ENOTBLK:
		return "Not a block device";
	case -ENXIO:
		return "Block device not present";
	case -EOVERFLOW:
		return "Device number out of range";
	case -EBUSY:
		return "Device is held exclusively by someone else";
	case -EACCES:
	case -EROFS:
		return "Device cannot be opened in the table's mode";
	default:
		return "Device lookup failed";
	}
}

/* Reject what device-mapper itself would only notice at resume time. */
static int dmp_check_range(struct dm_target *ti, struct dmp_target *dt)
{
	struct block_device *bdev = dt->dev->bdev;
	sector_t lbs = bdev_logical_block_size(bdev) >> SECTOR_SHIFT;
	sector_t end;

	if (check_add_overflow(dt->start, ti->len, &end) ||
	    end > bdev_nr_sectors(bdev)) {
		ti->error = "Target range exceeds the end of the device";
		return -EINVAL;
	}
	if ((dt->start | ti->len) & (lbs - 1)) {
		ti->error = "Offset or length not aligned to the device's logical block size";
		return -EINVAL;
	}
	/*
	 * Device-mapper maps whole zones only (a partial last zone neither),
	 * and says so only at resume, in the kernel log.
	 */
	if (bdev_is_zoned(bdev) &&
	    ((dt->start | ti->len) & (bdev_zone_sectors(bdev) - 1))) {
		ti->error = "Offset or length not aligned to the zones of the zoned device";
		return -EINVAL;
	}
	return 0;
}

/*
 * Construct a dmp mapping: <dev_path> [<offset>]
 */
static int dmp_ctr(struct dm_target *ti, unsigned int argc, char **argv)
{
	struct dmp_target *dt;
	dev_t devt;
	int r;

	if (argc < 1 || argc > 2) {
		ti->error = "Invalid argument count: <device> [<offset>]";
		return -EINVAL;
	}

	dt = kzalloc(sizeof(*dt), GFP_KERNEL);
	if (!dt) {
		ti->error = "Cannot allocate dmp context";
		return -ENOMEM;
	}

	if (argc == 2 && dmp_parse_sector(argv[1], &dt->start)) {
		ti->error = "Invalid device offset";
		r = -EINVAL;
		goto bad;
	}

	/*
	 * A table onto its own device would deadlock once resumed.  Checked
	 * first: newer kernels refuse it in dm_get_device() (EINVAL), but
	 * without saying why.
	 */
	if (!dmp_devt_from_path(argv[0], &devt) &&
	    devt == disk_devt(dm_disk(dm_table_get_md(ti->table)))) {
		ti->error = "Device cannot map onto itself";
		r = -ELOOP;
		goto bad;
	}

	r = dm_get_device(ti, argv[0], dm_table_get_mode(ti->table), &dt->dev);
	if (r) {
		ti->error = dmp_device_error(r);
		goto bad;
	}

	r = dmp_check_range(ti, dt);
	if (r)
		goto bad_put;

	dt->dd = dmp_device_get(ti, &dt->count_flush);
	if (IS_ERR(dt->dd)) {
		r = PTR_ERR(dt->dd);
		ti->error = r == -ENOMEM ? "Cannot allocate the device's statistics" :
			    "Cannot create the statistics directory";
		goto bad_put;
	}
	dt->pcpu = dt->dd->stats.pcpu;
	dt->devt = disk_devt(dm_disk(dm_table_get_md(ti->table)));

	ti->per_io_data_size = sizeof(struct dmp_io);
	ti->num_flush_bios = 1;
	ti->num_discard_bios = 1;
	ti->num_secure_erase_bios = 1;
	ti->num_write_zeroes_bios = 1;
	/*
	 * Unlike dm-linear, dmp leaves ti->flush_bypasses_map (6.11) false:
	 * if every target of a table set it, device-mapper would send empty
	 * flushes straight to the devices below, past map(), and flush_reqs
	 * would not count them.
	 */
	ti->private = dt;
	return 0;

bad_put:
	dm_put_device(ti, dt->dev);
bad:
	kfree(dt);
	return r;
}

static void dmp_dtr(struct dm_target *ti)
{
	struct dmp_target *dt = ti->private;

	dmp_device_put(dt->dd, ti);
	dm_put_device(ti, dt->dev);
	kfree(dt);
}

static inline bool dmp_timed(struct dmp_target *dt)
{
	/* Pairs with dmp_device_set_latency(): the tag is read after it. */
	return smp_load_acquire(&dt->dd->latency);
}

/* Record a request mapped to @to, and trace it. */
static noinline void dmp_map_slow(struct dmp_target *dt, struct bio *bio,
				  sector_t to)
{
	enum dmp_kind kind = dmp_bio_kind(bio, dt->count_flush);
	sector_t sector = bio->bi_iter.bi_sector;
	bool traced = trace_dmp_complete_enabled();
	struct dmp_io *io;

	/*
	 * An empty flush has no position: device-mapper gives every
	 * segment's copy sector 0, which a remap past the first segment
	 * wraps.
	 */
	if (kind == DMP_KIND_FLUSH || kind == DMP_KIND_NONE) {
		sector = 0;
		to = 0;
	}
	if (trace_dmp_submit_enabled()) {
		struct dmp_trace_req r = {
			.dev = dt->devt, .sector = sector,
			.under = dt->dev->bdev->bd_dev, .under_sector = to,
			.bytes = bio->bi_iter.bi_size, .opf = bio->bi_opf,
			.pid = current->pid, .comm = current->comm,
		};

		trace_dmp_submit(&r);
	}
	if (!dmp_timed(dt) && !traced)
		return;
	io = dm_per_bio_data(bio, sizeof(*io));
	io->lat_tag = READ_ONCE(dt->dd->lat_tag);
	io->trace_tag = READ_ONCE(dmp_trace_tag);
	io->sector = sector;
	io->under_sector = to;
	io->bytes = bio->bi_iter.bi_size;
	io->kind = kind;
	if (traced) {
		io->pid = current->pid;
		strscpy(io->comm, current->comm, sizeof(io->comm));
	}
	io->start_ns = ktime_get_ns();
}

static int dmp_map(struct dm_target *ti, struct bio *bio)
{
	struct dmp_target *dt = ti->private;
	sector_t sector = bio->bi_iter.bi_sector;
	sector_t to = dt->start + dm_target_offset(ti, sector);
	unsigned int bytes = bio->bi_iter.bi_size;

	/* Each direction apart, so that its counters' places are constants. */
	if (likely(dmp_bio_is_rw(bio))) {
		if (bio_data_dir(bio) == READ)
			dmp_stats_submit_rw(dt->pcpu, DMP_READ, sector, bytes);
		else
			dmp_stats_submit_rw(dt->pcpu, DMP_WRITE, sector, bytes);
	} else {
		dmp_stats_submit(dt->pcpu, dmp_bio_kind(bio, dt->count_flush),
				 sector, bytes);
	}
	/*
	 * Out of line: timing and tracing are the exception, and inlined
	 * they would cost every request registers and stack.
	 */
	if (unlikely(dmp_timed(dt)) || trace_dmp_submit_enabled() ||
	    trace_dmp_complete_enabled())
		dmp_map_slow(dt, bio, to);

	bio_set_dev(bio, dt->dev->bdev);
	bio->bi_iter.bi_sector = to;
	return DM_MAPIO_REMAPPED;
}

/*
 * The completion of a request that failed, bounced, is timed or is traced.
 * Out of line for the same reason as dmp_map_slow().
 */
static noinline void dmp_end_slow(struct dm_target *ti, struct bio *bio,
				  blk_status_t error)
{
	struct dmp_target *dt = ti->private;
	/*
	 * The kind again, from the bio: its operation is the one map() saw,
	 * and the layer below only drops a flush's REQ_PREFLUSH when it
	 * completes that flush at once, without error.
	 */
	enum dmp_kind kind = dmp_bio_kind(bio, dt->count_flush);
	bool bounced = error == BLK_STS_AGAIN;
	struct dmp_io *io;
	bool timed, traced;
	u64 lat_ns;

	/*
	 * Nothing was done to a bounced bio (it is only ever REQ_NOWAIT, and
	 * failed before it was issued): its size and position are still
	 * those that map() counted.
	 */
	if (bounced)
		dmp_stats_bounce(dt->pcpu, kind, ti->begin +
				 (bio->bi_iter.bi_sector - dt->start),
				 bio->bi_iter.bi_size);
	else if (error != BLK_STS_OK)
		dmp_stats_error(dt->pcpu, kind);
	timed = dmp_timed(dt) && !bounced;
	traced = trace_dmp_complete_enabled();
	if (!timed && !traced)
		return;
	io = dm_per_bio_data(bio, sizeof(*io));
	timed = timed && io->lat_tag == READ_ONCE(dt->dd->lat_tag);
	traced = traced && io->trace_tag == READ_ONCE(dmp_trace_tag);
	if (!timed && !traced)
		return;
	lat_ns = ktime_get_ns() - io->start_ns;
	if (timed)
		dmp_stats_latency(dt->pcpu, io->kind, lat_ns);
	if (traced) {
		struct dmp_trace_req r = {
			.dev = dt->devt, .sector = io->sector,
			.under = dt->dev->bdev->bd_dev,
			.under_sector = io->under_sector,
			.bytes = io->bytes, .opf = bio->bi_opf,
			.lat_ns = lat_ns, .error = blk_status_to_errno(error),
			.pid = io->pid, .comm = io->comm,
		};

		trace_dmp_complete(&r);
	}
}

/* Runs in the completion context of the driver below: may be an irq. */
static int dmp_end_io(struct dm_target *ti, struct bio *bio,
		      blk_status_t *error)
{
	struct dmp_target *dt = ti->private;

	dmp_stats_done(dt->pcpu);
	if (unlikely(*error != BLK_STS_OK || dmp_timed(dt)) ||
	    trace_dmp_complete_enabled())
		dmp_end_slow(ti, bio, *error);
	return DM_ENDIO_DONE;
}

static void dmp_status(struct dm_target *ti, status_type_t type,
		       unsigned int status_flags, char *result,
		       unsigned int maxlen)
{
	struct dmp_target *dt = ti->private;
	struct dmp_counts c;
	size_t sz = 0;

	switch (type) {
	case STATUSTYPE_INFO:
		dmp_stats_read(&dt->dd->stats, &c);
		dmp_counts_format_stat(&c, result, maxlen);
		break;
	case STATUSTYPE_TABLE:
		DMEMIT("%s %llu", dt->dev->name, (unsigned long long)dt->start);
		break;
	case STATUSTYPE_IMA:
		DMEMIT_TARGET_NAME_VERSION(ti->type);
		DMEMIT(",device_name=%s,start=%llu;", dt->dev->name,
		       (unsigned long long)dt->start);
		break;
	}
}

/*
 * "reset" zeroes the device's counters; "latency on|off" switches the timing
 * of requests (latency statistics) for the device.
 */
static int dmp_message(struct dm_target *ti, unsigned int argc, char **argv,
		       char *result, unsigned int maxlen)
{
	struct dmp_target *dt = ti->private;

	if (argc == 1 && !strcmp(argv[0], "reset")) {
		dmp_stats_reset(&dt->dd->stats);
		return 0;
	}
	if (argc == 2 && !strcmp(argv[0], "latency")) {
		if (!strcmp(argv[1], "on") || !strcmp(argv[1], "off")) {
			dmp_device_set_latency(dt->dd, argv[1][1] == 'n');
			return 0;
		}
	}
	DMWARN_LIMIT("%s: unknown message: expected \"reset\" or \"latency on|off\"",
		     dm_device_name(dm_table_get_md(ti->table)));
	return -EINVAL;
}

/* A rename is not reported to targets: pick it up on every resume. */
static void dmp_resume(struct dm_target *ti)
{
	struct dmp_target *dt = ti->private;

	dmp_device_refresh_name(dt->dd);
}

/*
 * The device an ioctl goes to (dmp_prepare_ioctl(), dmp_compat.h).  Its
 * requests (SG_IO reads and writes included) bypass map() and are not
 * counted, as they bypass dm-linear.
 */
static int dmp_ioctl_bdev(struct dm_target *ti, struct block_device **bdev)
{
	struct dmp_target *dt = ti->private;

	*bdev = dt->dev->bdev;
	/* Only pass ioctls through if the device sizes match exactly. */
	if (dt->start || ti->len != bdev_nr_sectors(dt->dev->bdev))
		return 1;
	return 0;
}

#ifdef CONFIG_BLK_DEV_ZONED
/* Zone reports through dmp, translated by the segment's offset. */
static int dmp_report_zones(struct dm_target *ti,
			    struct dm_report_zones_args *args,
			    unsigned int nr_zones)
{
	struct dmp_target *dt = ti->private;

	return dm_report_zones(dt->dev->bdev, dt->start,
			       dt->start + dm_target_offset(ti, args->next_sector),
			       args, nr_zones);
}
#else
#define dmp_report_zones NULL
#endif

static int dmp_iterate_devices(struct dm_target *ti,
			       iterate_devices_callout_fn fn, void *data)
{
	struct dmp_target *dt = ti->private;

	return fn(ti, dt->dev, dt->start, ti->len, data);
}

/*
 * What dm-linear passes through, dmp passes through too: integrity and
 * inline-crypto capability, REQ_NOWAIT, zoned devices (host-managed, and
 * host-aware before 6.8) with their zone reports, and atomic writes (where
 * the kernel has them, dmp_compat.h).  No DAX: direct access would bypass
 * map() and go uncounted, so a dmp device always takes the bio path.
 */
static struct target_type dmp_target = {
	.name = "dmp",
	.version = {1, 1, 0},
	.features = DM_TARGET_PASSES_INTEGRITY | DM_TARGET_NOWAIT |
		    DM_TARGET_ZONED_HM | DM_TARGET_PASSES_CRYPTO |
		    DM_TARGET_ATOMIC_WRITES,
	.report_zones = dmp_report_zones,
	.module = THIS_MODULE,
	.ctr = dmp_ctr,
	.dtr = dmp_dtr,
	.map = dmp_map,
	.end_io = dmp_end_io,
	.status = dmp_status,
	.message = dmp_message,
	.resume = dmp_resume,
	.prepare_ioctl = dmp_prepare_ioctl,
	.iterate_devices = dmp_iterate_devices,
};

static int __init dmp_init(void)
{
	int r;

	/* dmp_bio_is_rw() and the counters' layout depend on these. */
	BUILD_BUG_ON((__force u32)REQ_OP_READ != 0 || (__force u32)REQ_OP_WRITE != 1);

	r = dmp_sysfs_init();
	if (r) {
		DMERR("cannot create /sys/module/dmp/stat: %d", r);
		return r;
	}
	r = dm_register_target(&dmp_target);
	if (r) {
		DMERR("register failed %d", r);
		dmp_sysfs_exit();
		return r;
	}
	DMINFO("version %u.%u.%u loaded", dmp_target.version[0],
	       dmp_target.version[1], dmp_target.version[2]);
	return 0;
}

static void __exit dmp_exit(void)
{
	dm_unregister_target(&dmp_target);
	dmp_sysfs_exit();
}

module_init(dmp_init);
module_exit(dmp_exit);

MODULE_DESCRIPTION(DM_NAME " proxy target that counts requests");
MODULE_AUTHOR("dmp developers");
MODULE_LICENSE("GPL");
