# SPDX-License-Identifier: GPL-2.0
#
# dmp: device-mapper proxy with request statistics.
#
#   make              build dmp.ko for the running kernel (KDIR= overrides)
#                     and the tools (tools/dmpstat, tools/dmptrace)
#   make tools        the tools only: tools/dmpstat (gcc and libc) and
#                     tools/dmptrace (also libtracefs-dev, libtraceevent-dev,
#                     pkg-config); "make tools/dmpstat" builds dmpstat alone
#   make install      (root) dmp.ko into /lib/modules/<kver>/updates, depmod,
#                     dmpstat, dmptrace and dmp-plot into $(PREFIX)/bin, their
#                     manual pages into $(MANDIR)/man1 and the target's,
#                     dmp(4), into $(MANDIR)/man4; DESTDIR= and
#                     PREFIX= (default /usr/local) are honoured
#   make uninstall    remove exactly those, depmod again
#   make deb          Debian packages dmp-dkms and dmp-tools in build/deb/
#                     (debian/make-deb; tests/deb-check installs them)
#   make dkms-check   (root) dkms add/build/remove for each of $(KERNELS)
#   make check        the whole test suite in a throwaway QEMU guest
#   make demo         two dmp devices, a short fio job on each, the counters
#   make check-host   the same tests on this host's kernel (root, needs dm-mod)
#   make lint         checkpatch --strict once, W=1 and sparse for each of
#                     $(KERNELS) (KDIR=...: those headers only); all clean
#   make bench        dmp against dm-linear and dm-stats, and the cost of
#                     tracing, in the guest; table in bench/results.md
#                     (~17 min); QUICK=1: a smoke run (~2 min) that leaves
#                     bench/results.md alone
#   make deps         install the Debian packages all of the above need
#
# check/demo take KERNEL=<name> (the guest kernel, default stock) and
# T="<test> ..." (default: all).  Kernel names (tests/kernel.sh; each
# installs what it needs, cached in DMP_CACHE=/var/cache/dmp):
#   stock           Debian 12's kernel (linux-image-amd64: 6.1)
#   backports       the newest kernel of bookworm-backports (6.12 today),
#                   installed on the host through a private apt configuration
#   newest          the newest kernel of trixie-backports (7.3 today), built
#                   for in a trixie tree, booted unpacked
#   debug           the newest sanitizer kernel in ../shared/kernels (or
#                   DMP_DEBUG_DEBS); debug-<series>: of that series (debug-6.1)
#   <version>       an installed kernel
# lint and dkms-check take KERNELS="<name> ..." (default: the three supported
# kernels, "stock backports newest").
# bench takes KERNEL, QUICK=1, TCG=icount|single|multi and ARGS="<bench/guest args>"
# (e.g. ARGS="--rounds 9 --runtime 15"; see bench/run --help).

KVER ?= $(shell uname -r)
# The running kernel's headers if it has them; otherwise those of the
# Debian kernel the test guest boots (this is also what a container without
# modules for its own kernel gets).
ifeq ($(origin KDIR),undefined)
KDIR := $(firstword $(wildcard /lib/modules/$(KVER)/build) \
	$(shell tests/kernel.sh headers 2>/dev/null | sed -n 's/^KDIR=//p'))
endif

KERNEL ?= stock
KERNELS ?= stock backports newest
T ?=
QUICK ?=
TCG ?=
ARGS ?=

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
# Every manual page of the tools (section 1) and the target's (section 4,
# devices, as md(4) and loop(4)).
MAN1 := $(wildcard tools/*.1)
MAN4 := $(wildcard docs/*.4)
DESTDIR ?=
# Into a staging tree (DESTDIR) depmod is the package's job on the target.
DEPMOD ?= $(if $(DESTDIR),true,depmod)
CC ?= cc
TOOLS_CFLAGS ?= -O2 -g -Wall -Wextra -Werror
# CFLAGS, CPPFLAGS, LDFLAGS: added to the tools' (a package's build flags).
TOOLS_SRC := tools/dmpstat.c tools/dmpstat_sysfs.c tools/dmpstat_prom.c
TRACE_SRC := tools/dmptrace.c tools/dmptrace_dev.c tools/dmptrace_files.c \
	tools/dmptrace_log.c tools/dmptrace_trace.c tools/dmptrace_report.c
TRACE_LIBS := libtracefs libtraceevent
# The one version: the target's, in dmp.c (dkms.conf repeats it; dkms-check
# compares).
VERSION := $(shell sed -n 's/^\t\.version = {\([0-9]*\), \([0-9]*\), \([0-9]*\)},$$/\1.\2.\3/p' dmp.c)

# The release of the kernel KDIR is for (its modules directory), and
# whether modules_install can sign (only with the kernel's own key).
KREL = $(or $(shell sed -n 's/^\#define UTS_RELEASE "\(.*\)"/\1/p' $(KDIR)/include/generated/utsrelease.h 2>/dev/null),$(KVER))
SIGKEY = $(shell sed -n 's/^CONFIG_MODULE_SIG_KEY="\(.*\)"/\1/p' $(KDIR)/.config 2>/dev/null)
NOSIGN = $(if $(wildcard $(KDIR)/$(SIGKEY) $(SIGKEY)),,CONFIG_MODULE_SIG_ALL=)
MODDIR = $(DESTDIR)/lib/modules/$(KREL)/updates
MOD_SRC := $(filter-out %.mod.c,$(wildcard *.c *.h)) Kbuild

.PHONY: all modules tools clean deps check check-host demo lint \
	install install-module install-tools uninstall dkms-check bench deb

all: modules tools

modules:
	@test -n "$(KDIR)" || { echo "No kernel headers for $(KVER): apt-get install linux-headers-$(KVER), or set KDIR="; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

tools: tools/dmpstat tools/dmptrace

tools/dmpstat: $(TOOLS_SRC) tools/dmpstat.h dmp.c
	$(CC) $(TOOLS_CFLAGS) $(CFLAGS) -DDMPSTAT_VERSION='"$(VERSION)"' $(CPPFLAGS) $(LDFLAGS) \
		-o $@ $(TOOLS_SRC)

# Built on trace-cmd's libraries (Debian: libtracefs-dev, libtraceevent-dev).
tools/dmptrace: $(TRACE_SRC) tools/dmptrace.h dmp.c
	@pkg-config --exists $(TRACE_LIBS) || { echo "dmptrace needs libtracefs-dev, libtraceevent-dev and pkg-config (tests/install-deps build)"; exit 1; }
	$(CC) $(TOOLS_CFLAGS) $(CFLAGS) -DDMPSTAT_VERSION='"$(VERSION)"' $(CPPFLAGS) \
		$$(pkg-config --cflags $(TRACE_LIBS)) $(LDFLAGS) -o $@ $(TRACE_SRC) \
		$$(pkg-config --libs $(TRACE_LIBS))

install: install-module install-tools

# dmp.ko is (re)built first unless it is newer than every source and built
# for this kernel; modules_install puts it in $(MODDIR); depmod makes
# "modprobe dmp" find it and its dependency dm_mod.  With DESTDIR,
# DEPMOD=true skips depmod (a package runs it when installed).
install-module:
	@test -n "$(KREL)" || { echo "No kernel headers for $(KVER): set KDIR="; exit 1; }
	@if [ ! -f dmp.ko ] || [ -n "$$(find $(MOD_SRC) -newer dmp.ko)" ] || \
	    [ "$$(modinfo -F vermagic dmp.ko | cut -d' ' -f1)" != "$(KREL)" ]; then \
		$(MAKE) modules; \
	fi
	$(MAKE) -C $(KDIR) M=$(CURDIR) INSTALL_MOD_PATH=$(DESTDIR) \
		INSTALL_MOD_DIR=updates $(NOSIGN) modules_install
	$(DEPMOD) $(if $(DESTDIR),-b $(DESTDIR)) -a $(KREL)

install-tools: tools
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 tools/dmpstat tools/dmptrace tools/dmp-plot $(DESTDIR)$(BINDIR)/
	install -d $(DESTDIR)$(MANDIR)/man1
	$(if $(MAN1),install -m 0644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/)
	install -d $(DESTDIR)$(MANDIR)/man4
	$(if $(MAN4),install -m 0644 $(MAN4) $(DESTDIR)$(MANDIR)/man4/)

uninstall:
	@test -n "$(KREL)" || { echo "No kernel headers for $(KVER): set KDIR="; exit 1; }
	rm -f $(addprefix $(MODDIR)/dmp.ko,"" .gz .xz .zst)
	rmdir $(MODDIR) 2>/dev/null || true
	$(DEPMOD) $(if $(DESTDIR),-b $(DESTDIR)) -a $(KREL)
	rm -f $(DESTDIR)$(BINDIR)/dmpstat $(DESTDIR)$(BINDIR)/dmptrace \
		$(DESTDIR)$(BINDIR)/dmp-plot
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MAN1)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man4/,$(notdir $(MAN4)))

dkms-check:
	tests/install-deps build guest dkms
	tests/dkms-check $(KERNELS)

clean:
	@if [ -n "$(KDIR)" ]; then $(MAKE) -C $(KDIR) M=$(CURDIR) clean; fi
	rm -rf build
	rm -f tools/dmpstat tools/dmptrace

deps:
	tests/install-deps build guest lint bench dkms deb

deb:
	tests/install-deps deb
	debian/make-deb build/deb

check:
	tests/install-deps build guest
	tests/run --kernel $(KERNEL) $(T)

check-host: modules tools
	tests/check $(T)

demo:
	tests/install-deps build guest
	tests/run --kernel $(KERNEL) --cmd tests/demo

lint:
	tests/install-deps build lint
	tests/lint $(if $(filter command line environment,$(origin KDIR)),--kdir "$(KDIR)") $(KERNELS)

bench:
	tests/install-deps build guest bench
	bench/run --kernel $(KERNEL) $(if $(filter-out 0,$(QUICK)),--quick) \
		$(if $(TCG),--tcg $(TCG)) -- $(ARGS)
