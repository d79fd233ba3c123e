/*
 * fse_protocol.h: the joystick board's wire protocol, defined once (see firmware/PROTOCOL.md).
 *
 * Text lines, one per message, so a serial monitor shows them as-is and a host resynchronises at
 * the next newline after any corruption:
 *
 *   I,<protocol>,<firmware>,<board>,<axes>,<buttons>*CC\n   identity: on boot and on request
 *   D,<seq>,<a0>,...,<a7>,<buttons>*CC\n                   data frame: 100 Hz and on button change
 *   ?\n                                                     host -> board: send identity again
 *
 * CC is the CRC-8/MAXIM (Dallas 1-Wire; avr-libc's _crc_ibutton_update) of every byte before the
 * '*', written as two upper-case hex digits. Numbers are decimal without leading zeros.
 */
#ifndef FSE_PROTOCOL_H
#define FSE_PROTOCOL_H

#define FSE_PROTOCOL_VERSION 1          /* bump when a line's fields change; the host refuses others */
#define FSE_FIRMWARE_VERSION "1.1"      /* a build without the watchdog adds "-no-watchdog" */
#define FSE_BAUD 115200UL               /* 52-byte frames at 100 Hz use 45 % of the line */

#define FSE_AXES 8                      /* axis readings per frame: 10-bit ADC, 0..1023 */
#define FSE_AXIS_MAX 1023
#define FSE_BUTTONS 6                   /* bit k of the mask = button k pressed */
#define FSE_SEQ_MODULO 256              /* seq counts 0..255 and wraps; a gap = frames lost */

#define FSE_REPORT_INTERVAL_MS 10       /* 100 Hz: smooth at a 60 Hz UI, light on the host */
#define FSE_DEBOUNCE_MS 20              /* arcade microswitches bounce for a few ms */

/* The watchdog resets a board whose loop stalls this long (an avr/wdt.h WDTO_ value): far above a
   pass (under 10 ms), far below the kiosk's 1 s of silence before it reopens the port. Build with
   WATCHDOG=0 for boards with an old bootloader (joystick_board.ino's header says why). */
#ifndef FSE_WATCHDOG
#define FSE_WATCHDOG 1
#endif
#define FSE_WATCHDOG_TIMEOUT WDTO_250MS

#define FSE_LINE_MAX 80                 /* longest line either side sends, newline included */
#define FSE_IDENTITY_REQUEST '?'

/* Button bits, in the order of the host's Button enum. */
#define FSE_BUTTON_CAPTURE 0            /* photograph the design */
#define FSE_BUTTON_JUMP 1               /* hyperspace jump to a random place */
#define FSE_BUTTON_NEXT_PRINT 2         /* cycle the print (texture) */
#define FSE_BUTTON_RANDOM 3             /* a random design nearby */
#define FSE_BUTTON_NEXT_LANDMARK 4      /* glide to the next landmark */
#define FSE_BUTTON_SPARE 5              /* wired and reported; the kiosk gives it no action */

#endif
