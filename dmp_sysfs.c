// SPDX-License-Identifier: GPL-2.0
/*
 * The /sys/module/dmp/stat tree:
 *
 *   stat/<major>:<minor>/   one directory per mapped device with a dmp table
 *   stat/<dm-name>          symlink to that directory
 *   stat/all/               every request through any dmp device
 *
 * The kobjects are the kernel's own (kobject_create_and_add(), attributes
 * added with sysfs_create_groups()), not embedded in dmp's structures: a
 * kobject's release may run long after its last put (by seconds with
 * CONFIG_DEBUG_KOBJECT_RELEASE), possibly after rmmod, so it must not be
 * module text.  Every directory is removed with kobject_del() before its
 * put, which also waits for the show()/store() calls running in it; only
 * then is its device freed.  show() and store() find their device by the
 * directory's name (dmp_dir_device()).
 *
 * Locking: dmp_tree_lock serialises the device list, the directories, the
 * links and the names; it is held across kobject_del(), which waits for
 * running show()/store() calls, so no show() or store() may take it.
 * dmp_all_lock protects what readers of "all" and "name" need: the list
 * walk, the names, the counts of removed devices, the baseline of "all" and
 * the devices' latency switches.
 * It nests inside dmp_tree_lock and is never held while sysfs nodes go away.
 */
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/random.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/sysfs.h>
#include <linux/xarray.h>

#include "dmp.h"

#define DM_MSG_PREFIX "dmp"

static DEFINE_MUTEX(dmp_tree_lock);
static DEFINE_MUTEX(dmp_all_lock);
static LIST_HEAD(dmp_devices);
static DEFINE_XARRAY(dmp_devts);	/* dev_t -> device, for show()/store() */

static struct kobject *dmp_stat_kobj;	/* stat/ */
static struct kobject *dmp_all_kobj;	/* stat/all/ */
static struct dmp_counts dmp_retired;	/* raw counts of removed devices */
static struct dmp_counts dmp_all_base;	/* "all" at its last reset, its epoch */
static struct dmp_counts dmp_all_shown;	/* see dmp_counts_hold() */

/*
 * The device of a directory stat/<major>:<minor>, or NULL once it is being
 * removed.  It stays valid until the show() or store() calling this returns:
 * the device is freed only after kobject_del() has waited for them.
 */
static struct dmp_device *dmp_dir_device(struct kobject *kobj)
{
	unsigned int major, minor;

	if (sscanf(kobject_name(kobj), "%u:%u", &major, &minor) != 2)
		return NULL;
	return xa_load(&dmp_devts, MKDEV(major, minor));
}

/* Every request since load: live devices, removed ones, minus the reset. */
static void dmp_all_raw(struct dmp_counts *c)
{
	struct dmp_device *dd;
	struct dmp_counts raw;

	lockdep_assert_held(&dmp_all_lock);
	*c = dmp_retired;
	list_for_each_entry(dd, &dmp_devices, list) {
		dmp_stats_sum(&dd->stats, &raw);
		dmp_counts_add(c, &raw);
	}
}

static int dmp_node_read(struct kobject *kobj, struct dmp_counts *c)
{
	struct dmp_device *dd;

	if (kobj == dmp_all_kobj) {
		mutex_lock(&dmp_all_lock);
		dmp_all_raw(c);
		dmp_counts_since(c, &dmp_all_base);
		dmp_counts_hold(c, &dmp_all_shown);
		mutex_unlock(&dmp_all_lock);
		return 0;
	}
	dd = dmp_dir_device(kobj);
	if (!dd)
		return -ENODEV;
	dmp_stats_read(&dd->stats, c);
	return 0;
}

static int dmp_node_reset(struct kobject *kobj)
{
	struct dmp_epoch epoch;
	struct dmp_device *dd;

	if (kobj == dmp_all_kobj) {
		mutex_lock(&dmp_all_lock);
		epoch = dmp_all_base.epoch;
		dmp_all_raw(&dmp_all_base);
		dmp_all_base.in_flight = 0;	/* a gauge: never reset */
		dmp_epoch_reset(&epoch);
		dmp_all_base.epoch = epoch;
		memset(&dmp_all_shown, 0, sizeof(dmp_all_shown));
		mutex_unlock(&dmp_all_lock);
		return 0;
	}
	dd = dmp_dir_device(kobj);
	if (!dd)
		return -ENODEV;
	dmp_stats_reset(&dd->stats);
	return 0;
}

/*
 * A file with one value (@n == 0: the raw counter or derived value @first)
 * or with one line of @n raw counters from @first on (a histogram).
 */
struct dmp_attr {
	struct kobj_attribute attr;
	unsigned int first;
	unsigned int n;
};

static ssize_t dmp_value_show(struct kobject *kobj,
			      struct kobj_attribute *attr, char *buf)
{
	struct dmp_attr *a = container_of(attr, struct dmp_attr, attr);
	struct dmp_counts c;
	int n;

	n = dmp_node_read(kobj, &c);
	if (n)
		return n;
	if (!a->n)
		return sysfs_emit(buf, "%llu\n", dmp_counts_value(&c, a->first));
	n = dmp_counts_format(&c, a->first, a->n, buf, PAGE_SIZE - 1);
	buf[n++] = '\n';
	return n;
}

#define DMP_ATTR(_name, _first, _n)					\
static struct dmp_attr dmp_attr_##_name = {				\
	.attr = __ATTR(_name, 0444, dmp_value_show, NULL),		\
	.first = (_first),						\
	.n = (_n),							\
}

DMP_ATTR(read_reqs, DMP_READ_REQS, 0);
DMP_ATTR(write_reqs, DMP_WRITE_REQS, 0);
DMP_ATTR(total_reqs, DMP_V_TOTAL_REQS, 0);
DMP_ATTR(read_bytes, DMP_READ_BYTES, 0);
DMP_ATTR(write_bytes, DMP_WRITE_BYTES, 0);
DMP_ATTR(total_bytes, DMP_V_TOTAL_BYTES, 0);
DMP_ATTR(read_avg_size, DMP_V_READ_AVG_SIZE, 0);
DMP_ATTR(write_avg_size, DMP_V_WRITE_AVG_SIZE, 0);
DMP_ATTR(total_avg_size, DMP_V_TOTAL_AVG_SIZE, 0);
DMP_ATTR(flush_reqs, DMP_FLUSH_REQS, 0);
DMP_ATTR(discard_reqs, DMP_DISCARD_REQS, 0);
DMP_ATTR(discard_bytes, DMP_DISCARD_BYTES, 0);
DMP_ATTR(read_errors, DMP_READ_ERRORS, 0);
DMP_ATTR(write_errors, DMP_WRITE_ERRORS, 0);
DMP_ATTR(read_seq_reqs, DMP_READ_SEQ, 0);
DMP_ATTR(write_seq_reqs, DMP_WRITE_SEQ, 0);
DMP_ATTR(read_lat_ns, DMP_READ_LAT_NS, 0);
DMP_ATTR(write_lat_ns, DMP_WRITE_LAT_NS, 0);
DMP_ATTR(in_flight, DMP_V_IN_FLIGHT, 0);
DMP_ATTR(bounced_reqs, DMP_BOUNCED_REQS, 0);
DMP_ATTR(zone_open_reqs, DMP_ZONE_OPEN_REQS, 0);
DMP_ATTR(zone_close_reqs, DMP_ZONE_CLOSE_REQS, 0);
DMP_ATTR(zone_finish_reqs, DMP_ZONE_FINISH_REQS, 0);
DMP_ATTR(zone_reset_reqs, DMP_ZONE_RESET_REQS, 0);
DMP_ATTR(resets, DMP_V_RESETS, 0);
DMP_ATTR(created_ns, DMP_V_CREATED_NS, 0);
DMP_ATTR(reset_ns, DMP_V_RESET_NS, 0);
DMP_ATTR(read_lat_hist, DMP_READ_LAT_HIST, DMP_LAT_BUCKETS);
DMP_ATTR(write_lat_hist, DMP_READ_LAT_HIST + DMP_LAT_BUCKETS, DMP_LAT_BUCKETS);
DMP_ATTR(read_size_hist, DMP_READ_SIZE_HIST, DMP_SIZE_BUCKETS);
DMP_ATTR(write_size_hist, DMP_READ_SIZE_HIST + DMP_SIZE_BUCKETS,
	 DMP_SIZE_BUCKETS);

/* The scalar counters of one moment on one line, as "dmsetup status". */
static ssize_t stat_show(struct kobject *kobj, struct kobj_attribute *attr,
			 char *buf)
{
	struct dmp_counts c;
	int n;

	n = dmp_node_read(kobj, &c);
	if (n)
		return n;
	n = dmp_counts_format_stat(&c, buf, PAGE_SIZE - 1);
	buf[n++] = '\n';
	return n;
}

static ssize_t reset_store(struct kobject *kobj, struct kobj_attribute *attr,
			   const char *buf, size_t count)
{
	int r;

	if (!sysfs_streq(buf, "1"))
		return -EINVAL;
	r = dmp_node_reset(kobj);
	return r ? r : count;
}

static ssize_t name_show(struct kobject *kobj, struct kobj_attribute *attr,
			 char *buf)
{
	struct dmp_device *dd = dmp_dir_device(kobj);
	ssize_t n;

	if (!dd)
		return -ENODEV;
	mutex_lock(&dmp_all_lock);
	n = sysfs_emit(buf, "%s\n", dd->name);
	mutex_unlock(&dmp_all_lock);
	return n;
}

static ssize_t latency_show(struct kobject *kobj, struct kobj_attribute *attr,
			    char *buf)
{
	struct dmp_device *dd = dmp_dir_device(kobj);

	if (!dd)
		return -ENODEV;
	return sysfs_emit(buf, "%s\n", READ_ONCE(dd->latency) ? "on" : "off");
}

static struct kobj_attribute dmp_attr_stat = __ATTR_RO(stat);
static struct kobj_attribute dmp_attr_reset = __ATTR_WO(reset);
static struct kobj_attribute dmp_attr_name = __ATTR_RO(name);
static struct kobj_attribute dmp_attr_latency = __ATTR_RO(latency);

static struct attribute *dmp_common_attrs[] = {
	&dmp_attr_read_reqs.attr.attr,
	&dmp_attr_write_reqs.attr.attr,
	&dmp_attr_total_reqs.attr.attr,
	&dmp_attr_read_bytes.attr.attr,
	&dmp_attr_write_bytes.attr.attr,
	&dmp_attr_total_bytes.attr.attr,
	&dmp_attr_read_avg_size.attr.attr,
	&dmp_attr_write_avg_size.attr.attr,
	&dmp_attr_total_avg_size.attr.attr,
	&dmp_attr_flush_reqs.attr.attr,
	&dmp_attr_discard_reqs.attr.attr,
	&dmp_attr_discard_bytes.attr.attr,
	&dmp_attr_read_errors.attr.attr,
	&dmp_attr_write_errors.attr.attr,
	&dmp_attr_read_seq_reqs.attr.attr,
	&dmp_attr_write_seq_reqs.attr.attr,
	&dmp_attr_read_lat_ns.attr.attr,
	&dmp_attr_write_lat_ns.attr.attr,
	&dmp_attr_in_flight.attr.attr,
	&dmp_attr_bounced_reqs.attr.attr,
	&dmp_attr_zone_open_reqs.attr.attr,
	&dmp_attr_zone_close_reqs.attr.attr,
	&dmp_attr_zone_finish_reqs.attr.attr,
	&dmp_attr_zone_reset_reqs.attr.attr,
	&dmp_attr_resets.attr.attr,
	&dmp_attr_created_ns.attr.attr,
	&dmp_attr_reset_ns.attr.attr,
	&dmp_attr_read_lat_hist.attr.attr,
	&dmp_attr_write_lat_hist.attr.attr,
	&dmp_attr_read_size_hist.attr.attr,
	&dmp_attr_write_size_hist.attr.attr,
	&dmp_attr_stat.attr,
	&dmp_attr_reset.attr,
	NULL
};

static const struct attribute_group dmp_common_group = {
	.attrs = dmp_common_attrs,
};

static struct attribute *dmp_dev_attrs[] = {
	&dmp_attr_name.attr,
	&dmp_attr_latency.attr,
	NULL
};

static const struct attribute_group dmp_dev_group = {
	.attrs = dmp_dev_attrs,
};

static const struct attribute_group *dmp_dev_groups[] = {
	&dmp_common_group,
	&dmp_dev_group,
	NULL
};

static const struct attribute_group *dmp_all_groups[] = {
	&dmp_common_group,
	NULL
};

static struct dmp_device *dmp_find(struct mapped_device *md)
{
	struct dmp_device *dd;

	list_for_each_entry(dd, &dmp_devices, list)
		if (dd->md == md)
			return dd;
	return NULL;
}

/* The device whose link is called @name, if any. */
static struct dmp_device *dmp_link_holder(const char *name)
{
	struct dmp_device *dd;

	list_for_each_entry(dd, &dmp_devices, list)
		if (dd->linked && !strcmp(dd->name, name))
			return dd;
	return NULL;
}

static bool dmp_name_is_dir(const char *name)
{
	struct dmp_device *dd;

	if (!strcmp(name, "all") || !strcmp(name, ".") || !strcmp(name, ".."))
		return true;
	list_for_each_entry(dd, &dmp_devices, list)
		if (!strcmp(kobject_name(dd->kobj), name))
			return true;
	return false;
}

/* Give @dd the link stat/<dd->name> if that name is free; warn if not. */
static void dmp_link(struct dmp_device *dd, bool warn)
{
	const char *dir = kobject_name(dd->kobj);
	struct dmp_device *holder;
	int r;

	lockdep_assert_held(&dmp_tree_lock);
	if (dd->linked || !dd->name[0])
		return;
	if (dmp_name_is_dir(dd->name)) {
		if (warn)
			DMWARN("%s: no link: name \"%s\" is a directory of stat/",
			       dir, dd->name);
		return;
	}
	holder = dmp_link_holder(dd->name);
	if (holder) {
		if (warn)
			DMWARN("%s: no link: stat/%s still belongs to %s",
			       dir, dd->name, kobject_name(holder->kobj));
		return;
	}
	r = sysfs_create_link(dmp_stat_kobj, dd->kobj, dd->name);
	if (r) {
		DMWARN("%s: cannot link stat/%s: %d", dir, dd->name, r);
		return;
	}
	dd->linked = true;
}

static void dmp_drop_link(struct dmp_device *dd)
{
	lockdep_assert_held(&dmp_tree_lock);
	if (!dd->linked)
		return;
	sysfs_remove_link(dmp_stat_kobj, dd->name);
	dd->linked = false;
}

/* Give the free name @name to a device (not @from) that was refused it. */
static void dmp_give_name(const char *name, struct dmp_device *from)
{
	struct dmp_device *dd;

	list_for_each_entry(dd, &dmp_devices, list) {
		if (dd != from && !dd->linked && !strcmp(dd->name, name)) {
			dmp_link(dd, false);
			return;
		}
	}
}

/* Drop the link of @dd and hand its name on (a rename swap, an old name). */
static void dmp_unlink(struct dmp_device *dd)
{
	if (!dd->linked)
		return;
	dmp_drop_link(dd);
	dmp_give_name(dd->name, dd);
}

static void dmp_set_name(struct dmp_device *dd, const char *name)
{
	mutex_lock(&dmp_all_lock);
	strscpy(dd->name, name, sizeof(dd->name));
	mutex_unlock(&dmp_all_lock);
}

/*
 * Device-mapper does not tell targets about "dmsetup rename", so the link
 * catches up here, on every resume of the device.  Not on a table load: a
 * load can still fail after dmp's constructor ran, and nothing tells the
 * target.  A link that could not be made before is tried again.
 */
void dmp_device_refresh_name(struct dmp_device *dd)
{
	char name[DM_NAME_LEN];

	mutex_lock(&dmp_tree_lock);
	if (dm_copy_name_and_uuid(dd->md, name, NULL))
		goto out;	/* being removed */
	if (strcmp(name, dd->name)) {
		dmp_unlink(dd);
		dmp_set_name(dd, name);
		dmp_link(dd, true);
	} else {
		dmp_link(dd, false);
	}
out:
	mutex_unlock(&dmp_tree_lock);
}

/*
 * A device that starts timing takes a new tag for its requests' records
 * first: a request mapped while timing was off has no record with it.
 */
void dmp_device_set_latency(struct dmp_device *dd, bool on)
{
	mutex_lock(&dmp_all_lock);
	if (on && !dd->latency)
		WRITE_ONCE(dd->lat_tag, get_random_u64());
	/* Pairs with dmp_timed(): whoever sees it on sees the new tag. */
	smp_store_release(&dd->latency, on);
	mutex_unlock(&dmp_all_lock);
}

static struct dmp_device *dmp_device_create(struct mapped_device *md)
{
	dev_t devt = disk_devt(dm_disk(md));
	struct dmp_device *dd, *holder;
	char dir[16];
	int r;

	lockdep_assert_held(&dmp_tree_lock);
	dd = kzalloc(sizeof(*dd), GFP_KERNEL);
	if (!dd)
		return ERR_PTR(-ENOMEM);
	r = dmp_stats_init(&dd->stats);
	if (r)
		goto bad_free;
	dd->md = md;
	dd->devt = devt;
	dd->refs = 1;
	dd->latency = READ_ONCE(dmp_latency_default);
	dd->lat_tag = get_random_u64();
	if (dm_copy_name_and_uuid(md, dd->name, NULL))
		dd->name[0] = '\0';
	/* Before the directory: a reader of it must find the device. */
	r = xa_insert(&dmp_devts, devt, dd, GFP_KERNEL);
	if (r)
		goto bad_stats;

	/* The directory name is the stable one: it wins over a link. */
	snprintf(dir, sizeof(dir), "%u:%u", MAJOR(devt), MINOR(devt));
	holder = dmp_link_holder(dir);
	if (holder)
		dmp_drop_link(holder);
	r = -ENOMEM;
	dd->kobj = kobject_create_and_add(dir, dmp_stat_kobj);
	if (!dd->kobj)
		goto bad_relink;
	r = sysfs_create_groups(dd->kobj, dmp_dev_groups);
	if (r)
		goto bad_kobj;
	if (holder)
		DMWARN("%s: link %s removed: the name is now a directory",
		       kobject_name(holder->kobj), dir);

	mutex_lock(&dmp_all_lock);
	list_add_tail(&dd->list, &dmp_devices);
	mutex_unlock(&dmp_all_lock);
	dmp_link(dd, true);
	DMINFO("%s: created, name \"%s\"", dir, dd->name);
	return dd;

bad_kobj:
	kobject_del(dd->kobj);
	kobject_put(dd->kobj);
bad_relink:
	if (holder)
		dmp_link(holder, false);
	xa_erase(&dmp_devts, devt);
bad_stats:
	dmp_stats_exit(&dd->stats);
bad_free:
	kfree(dd);
	return ERR_PTR(r);
}

/*
 * Called by every dmp target's ctr.  The first dmp target that a table
 * constructs for a device is the one that counts that table's empty flushes
 * (*@count_flush), so a table with several dmp segments counts each once.
 */
struct dmp_device *dmp_device_get(struct dm_target *ti, bool *count_flush)
{
	struct mapped_device *md = dm_table_get_md(ti->table);
	struct dmp_device *dd;

	mutex_lock(&dmp_tree_lock);
	dd = dmp_find(md);
	if (dd)
		dd->refs++;
	else
		dd = dmp_device_create(md);
	if (!IS_ERR(dd)) {
		*count_flush = dd->flush_table != ti->table;
		dd->flush_table = ti->table;
	}
	mutex_unlock(&dmp_tree_lock);
	return dd;
}

/*
 * Called by every dmp target's dtr.  When the last one goes, the device's
 * counts move into "all", then its link and directory are removed; readers
 * still inside a show() are waited for by kobject_del().
 */
void dmp_device_put(struct dmp_device *dd, struct dm_target *ti)
{
	struct dmp_counts raw;

	mutex_lock(&dmp_tree_lock);
	if (dd->flush_table == ti->table)
		dd->flush_table = NULL;
	if (--dd->refs) {
		mutex_unlock(&dmp_tree_lock);
		return;
	}

	mutex_lock(&dmp_all_lock);
	list_del(&dd->list);
	dmp_stats_sum(&dd->stats, &raw);
	dmp_counts_add(&dmp_retired, &raw);
	mutex_unlock(&dmp_all_lock);
	xa_erase(&dmp_devts, dd->devt);

	dmp_unlink(dd);
	DMINFO("%s: removed, name \"%s\"", kobject_name(dd->kobj), dd->name);
	kobject_del(dd->kobj);
	/* A device named like this directory can have its link now. */
	dmp_give_name(kobject_name(dd->kobj), dd);
	mutex_unlock(&dmp_tree_lock);
	kobject_put(dd->kobj);
	dmp_stats_exit(&dd->stats);
	kfree(dd);
}

int dmp_sysfs_init(void)
{
	int r;

	dmp_epoch_init(&dmp_all_base.epoch);
	dmp_stat_kobj = kobject_create_and_add("stat", &THIS_MODULE->mkobj.kobj);
	if (!dmp_stat_kobj)
		return -ENOMEM;
	r = -ENOMEM;
	dmp_all_kobj = kobject_create_and_add("all", dmp_stat_kobj);
	if (!dmp_all_kobj)
		goto bad;
	r = sysfs_create_groups(dmp_all_kobj, dmp_all_groups);
	if (r)
		goto bad_all;
	return 0;

bad_all:
	kobject_del(dmp_all_kobj);
	kobject_put(dmp_all_kobj);
bad:
	kobject_del(dmp_stat_kobj);
	kobject_put(dmp_stat_kobj);
	return r;
}

/* Only reached when no dmp table exists: each one holds a module reference. */
void dmp_sysfs_exit(void)
{
	kobject_del(dmp_all_kobj);
	kobject_put(dmp_all_kobj);
	kobject_del(dmp_stat_kobj);
	kobject_put(dmp_stat_kobj);
}
