/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dmp tracepoints: one record per request as it is mapped and as it
 * completes.  The process (pid, comm) is in every trace record already.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM dmp

#if !defined(_DMP_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _DMP_TRACE_H

#include <linux/blk_types.h>
#include <linux/blktrace_api.h>
#include <linux/kdev_t.h>
#include <linux/tracepoint.h>

#define DMP_RWBS_LEN	8	/* as RWBS_LEN in trace/events/block.h */

DECLARE_EVENT_CLASS(dmp_request,
		    TP_PROTO(dev_t dev, sector_t sector, dev_t under,
			     sector_t under_sector, unsigned int bytes,
			     blk_opf_t opf, u64 lat_ns, int error),
		    TP_ARGS(dev, sector, under, under_sector, bytes, opf,
			    lat_ns, error),
		    TP_STRUCT__entry(__field(dev_t, dev)
				     __field(sector_t, sector)
				     __field(dev_t, under)
				     __field(sector_t, under_sector)
				     __field(unsigned int, bytes)
				     __array(char, rwbs, DMP_RWBS_LEN)
				     __field(u64, lat_ns)
				     __field(int, error)),
		    TP_fast_assign(__entry->dev = dev;
				   __entry->sector = sector;
				   __entry->under = under;
				   __entry->under_sector = under_sector;
				   __entry->bytes = bytes;
				   blk_fill_rwbs(__entry->rwbs, opf);
				   __entry->lat_ns = lat_ns;
				   __entry->error = error;),
		    TP_printk("%d,%d %s %llu + %u bytes -> %d,%d %llu lat_ns=%llu error=%d",
			      MAJOR(__entry->dev), MINOR(__entry->dev),
			      __entry->rwbs,
			      (unsigned long long)__entry->sector,
			      __entry->bytes,
			      MAJOR(__entry->under), MINOR(__entry->under),
			      (unsigned long long)__entry->under_sector,
			      __entry->lat_ns, __entry->error)
);

/* A request as dmp maps it (lat_ns and error are 0, and not printed). */
DEFINE_EVENT_PRINT(dmp_request, dmp_submit,
		   TP_PROTO(dev_t dev, sector_t sector, dev_t under,
			    sector_t under_sector, unsigned int bytes,
			    blk_opf_t opf, u64 lat_ns, int error),
		   TP_ARGS(dev, sector, under, under_sector, bytes, opf,
			   lat_ns, error),
		   TP_printk("%d,%d %s %llu + %u bytes -> %d,%d %llu",
			     MAJOR(__entry->dev), MINOR(__entry->dev),
			     __entry->rwbs,
			     (unsigned long long)__entry->sector,
			     __entry->bytes,
			     MAJOR(__entry->under), MINOR(__entry->under),
			     (unsigned long long)__entry->under_sector)
);

/*
 * The same request when it completes, with its latency and errno.  Enabling
 * it makes map() record requests (dmp_trace_complete_reg(), declared in
 * dmp.h, is in dmp.c).
 */
DEFINE_EVENT_FN(dmp_request, dmp_complete,
		TP_PROTO(dev_t dev, sector_t sector, dev_t under,
			 sector_t under_sector, unsigned int bytes,
			 blk_opf_t opf, u64 lat_ns, int error),
		TP_ARGS(dev, sector, under, under_sector, bytes, opf, lat_ns,
			error),
		dmp_trace_complete_reg, NULL
);

#endif /* _DMP_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE dmp_trace
#include <trace/define_trace.h>
