/* The size of guestlib's console ring, shared by console.c (the ring) and entry.S
 * (the image note that tells the monitor where it is). */
#ifndef TIDAL_GUESTLIB_CONSOLE_RING_H
#define TIDAL_GUESTLIB_CONSOLE_RING_H

/* 64 KiB: 10,000 short lines with a flush after each (16 bytes a record) fill it
 * about 2.5 times. Its .bss pages cost nothing until output reaches them. */
#define TIDAL_GUEST_CONSOLE_RING_BYTES 65536

#endif
