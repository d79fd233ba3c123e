/*
 * fse_board_sim: runs the joystick board's compiled firmware (an ATmega328P ELF) in simavr and
 * bridges its UART to a pseudo-terminal, so the kiosk's own serial backend can talk to it.
 *
 *   build/fse_board_sim firmware/build-nano/joystick_board.elf
 *
 * stdout: "pty /dev/pts/N" once the bridge is up (use this path, not /tmp/simavr-uart0, which is
 * one fixed name shared by every simavr), "running" after go, "time <us>" after time, "ok" after
 * every other command.
 * stdin, one command a line:
 *   adc <channel 0-7> <millivolts>   set an analog input (AVcc = AREF = 5000 mV)
 *   button <bit 0-5> <0|1>           press (1) or release (0) the button on D2+bit
 *   trace <path>                     from now on, write every line the board sends to path as
 *                                    "<simulated us at its first byte> <line>"
 *   time                             the simulated time in microseconds since power-on
 *   hang                             stop the firmware dead: interrupts off, the CPU spinning in a
 *                                    jump-to-itself (as a stuck loop would); only a reset ends it
 *   go                               start the CPU (hold it until the host has opened the pty:
 *                                    pyserial flushes input on open and would eat the identity)
 *   quit                             exit at once
 *
 * The simulation is throttled to real time: the bridge holds only 512 bytes and drops the rest.
 * Timing a test checks is read from the trace, in simulated time, so a slow host changes nothing.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sim_avr.h"
#include "sim_elf.h"
#include "avr_adc.h"
#include "avr_ioport.h"
#include "avr_uart.h"
#include "sim_time.h"
#include "uart_pty.h"

#define MCU "atmega328p"
#define F_CPU 16000000UL
#define SUPPLY_MV 5000           /* the Nano's USB 5 V; simavr assumes 3300 mV and clips otherwise */
#define AXES 8
#define BUTTONS 6
#define FIRST_BUTTON_PIN 2       /* D2..D7 = PD2..PD7 on the ATmega328P */
#define CHECK_EVERY_CYCLES 16000 /* 1 ms of simulated time between stdin/throttle checks */

static avr_t *avr;
static uart_pty_t uart_pty;
static int running;
static FILE *out; /* the real stdout; simavr's own chatter goes to stderr */
static FILE *trace;

static unsigned long long sim_us(avr_cycle_count_t cycle) {
	return (unsigned long long)avr_cycles_to_usec(avr, cycle);
}

/* Every byte the firmware writes to its UART, stamped with the simulated time its line began. */
static void uart_byte_sent(struct avr_irq_t *irq, uint32_t value, void *param) {
	static char text[128];
	static size_t length;
	static avr_cycle_count_t started;
	(void)irq;
	(void)param;
	if (length == 0) started = avr->cycle;
	if (value != '\n' && length < sizeof(text) - 1) {
		text[length++] = (char)value;
		return;
	}
	text[length] = '\0';
	length = 0;
	if (trace) {
		fprintf(trace, "%llu %s\n", sim_us(started), text);
		fflush(trace);
	}
}

/* A jump-to-itself in the top flash word (the bootloader's place; the simulation has none). */
static void hang(void) {
	avr_flashaddr_t spin = avr->flashend - 1;
	avr->flash[spin] = 0xFF; /* rjmp .-2 = 0xCFFF, little-endian */
	avr->flash[spin + 1] = 0xCF;
	avr->sreg[S_I] = 0;
	avr->pc = spin;
	if (trace) {
		fprintf(trace, "%llu # hang\n", sim_us(avr->cycle));
		fflush(trace);
	}
}

static double now_s(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void reply(const char *text) {
	fputs(text, out);
	fputc('\n', out);
	fflush(out);
}

static void set_button(int bit, int pressed) {
	/* Buttons pull the pin to GND; simavr does not model the pull-up, so released = drive high. */
	avr_irq_t *pin = avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('D'), FIRST_BUTTON_PIN + bit);
	avr_raise_irq(pin, pressed ? 0 : 1);
}

static void command(char *line) {
	int a, b;
	if (sscanf(line, "adc %d %d", &a, &b) == 2 && a >= 0 && a < AXES && b >= 0 && b <= SUPPLY_MV) {
		avr_raise_irq(avr_io_getirq(avr, AVR_IOCTL_ADC_GETIRQ, ADC_IRQ_ADC0 + a), b);
		reply("ok");
	} else if (sscanf(line, "button %d %d", &a, &b) == 2 && a >= 0 && a < BUTTONS && (b == 0 || b == 1)) {
		set_button(a, b);
		reply("ok");
	} else if (strncmp(line, "trace ", 6) == 0) {
		if (trace) fclose(trace);
		trace = fopen(line + 6, "w");
		reply(trace ? "ok" : "error");
	} else if (strcmp(line, "time") == 0) {
		fprintf(out, "time %llu\n", sim_us(avr->cycle));
		fflush(out);
	} else if (strcmp(line, "hang") == 0) {
		hang();
		reply("ok");
	} else if (strncmp(line, "go", 2) == 0) {
		running = 1;
		reply("running");
	} else if (strncmp(line, "quit", 4) == 0) {
		/* No uart_pty_stop(): it can hang on a pty nobody drains. The process exit closes it. */
		_exit(0);
	} else {
		fprintf(stderr, "fse_board_sim: unknown command %s (expected adc CH MV, button BIT 0|1, trace PATH, time, hang, go, quit)\n", line);
		reply("error");
	}
}

/* Reads whatever stdin has; runs each complete line. Returns 0 on EOF (the test went away). */
static int serve_stdin(int timeout_ms) {
	static char buffer[256];
	static size_t length;
	struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
	if (poll(&pfd, 1, timeout_ms) <= 0) return 1;
	ssize_t n = read(STDIN_FILENO, buffer + length, sizeof(buffer) - 1 - length);
	if (n <= 0) return 0;
	length += n;
	char *newline;
	while ((newline = memchr(buffer, '\n', length)) != NULL) {
		*newline = '\0';
		command(buffer);
		length -= newline + 1 - buffer;
		memmove(buffer, newline + 1, length);
	}
	if (length == sizeof(buffer) - 1) length = 0; /* an overlong line: drop it */
	return 1;
}

int main(int argc, char **argv) {
	if (argc != 2) {
		fprintf(stderr, "usage: %s FIRMWARE.elf   (build it with: make -C firmware)\n", argv[0]);
		return 2;
	}
	/* simavr prints progress with printf; keep stdout for the replies the test parses. */
	out = fdopen(dup(STDOUT_FILENO), "w");
	dup2(STDERR_FILENO, STDOUT_FILENO);

	elf_firmware_t firmware = {{0}};
	if (access(argv[1], R_OK) != 0 || elf_read_firmware(argv[1], &firmware) != 0) {
		fprintf(stderr, "fse_board_sim: cannot read %s (%s); build it with: make -C firmware\n", argv[1], strerror(errno));
		return 2;
	}
	/* Arduino ELFs carry no .mmcu section: name the chip, clock and supply ourselves. */
	avr = avr_make_mcu_by_name(MCU);
	if (!avr) {
		fprintf(stderr, "fse_board_sim: this simavr has no %s model\n", MCU);
		return 2;
	}
	avr_init(avr);
	avr_load_firmware(avr, &firmware);
	avr->frequency = F_CPU;
	avr->vcc = avr->avcc = avr->aref = SUPPLY_MV;

	uart_pty_init(avr, &uart_pty);
	uart_pty_connect(&uart_pty, '0');
	avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUTPUT), uart_byte_sent, NULL);
	for (int bit = 0; bit < BUTTONS; bit++) set_button(bit, 0);
	for (int ch = 0; ch < AXES; ch++)
		avr_raise_irq(avr_io_getirq(avr, AVR_IOCTL_ADC_GETIRQ, ADC_IRQ_ADC0 + ch), SUPPLY_MV / 2);

	fprintf(out, "pty %s\n", uart_pty.pty.slavename);
	fflush(out);

	while (!running)
		if (!serve_stdin(100)) return 0;

	double start = now_s();
	avr_cycle_count_t next_check = avr->cycle + CHECK_EVERY_CYCLES;
	for (;;) {
		int state = avr_run(avr);
		if (state == cpu_Done || state == cpu_Crashed) {
			fprintf(stderr, "fse_board_sim: the firmware stopped (state %d)\n", state);
			return 1;
		}
		if (avr->cycle < next_check) continue;
		next_check = avr->cycle + CHECK_EVERY_CYCLES;
		double ahead = (double)avr->cycle / F_CPU - (now_s() - start);
		int wait_ms = ahead > 0.001 ? (int)(ahead * 1000) : 0;
		if (!serve_stdin(wait_ms)) return 0;
	}
}
