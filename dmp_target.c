// SPDX-License-Identifier: GPL-2.0
/*
 * The target, dmp.c, compiled for the module dmp.ko.  Kbuild cannot build
 * an object of a composite module under the module's own name (dmp.o is
 * dmp.ko's object of objects; Documentation/kbuild/makefiles.rst), so dmp.c
 * is compiled as part of this file, by Kbuild's documented %.o: %.c rule.
 */
#include "dmp.c"
