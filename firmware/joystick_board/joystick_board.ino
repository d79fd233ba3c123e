/*
 * joystick_board.ino: the Fashion Space Explorer joystick board.
 *
 * Reads 8 analog joystick axes and 6 arcade buttons and reports them to the kiosk over USB serial
 * in the protocol of fse_protocol.h / firmware/PROTOCOL.md: an identity line on boot (and when the
 * host sends '?'), then a data frame every 10 ms on a fixed grid, and one more at once when a
 * button changes.
 *
 * Watchdog: a loop pass that does not finish within 250 ms resets the board, which boots, sends
 * its identity and streams again. Optiboot (the current Nano and Uno bootloader) and the Mega
 * 2560's current stk500v2 bootloader cope with a watchdog reset. The old Nano bootloader
 * (ATmegaBOOT, "ATmega328P (Old Bootloader)" in the Arduino IDE, flashed at 57600 baud) and Mega
 * bootloaders from before 2012 do not: they leave the watchdog running at 16 ms and reset forever,
 * until the power is cut. Build for those with `make -C firmware WATCHDOG=0` (or burn optiboot);
 * the kiosk then resets a silent board itself by reopening its port (DTR). See docs/joystick.md.
 *
 * Boards: Arduino Nano (ATmega328P) and Arduino Mega 2560; others stop the build with #error.
 * Build: make -C firmware  (Debian arduino-mk). Flash: see docs/joystick.md.
 *
 * Wiring (same pins on both boards):
 *
 *   what                      pin    notes
 *   axis 0..7 (stick wipers)  A0-A7  pot ends to 5V and GND; centre reads ~512
 *   capture button            D2     to GND; internal pull-up, pressed = LOW
 *   jump button               D3     to GND; internal pull-up
 *   next print button         D4     to GND; internal pull-up
 *   random button             D5     to GND; internal pull-up
 *   next landmark button      D6     to GND; internal pull-up
 *   spare button              D7     to GND; internal pull-up
 *
 * On the Nano A6/A7 are analog-only, which is all the axes need. D0/D1 stay free for USB serial.
 */
#include "fse_protocol.h"
#include <avr/wdt.h>
#include <util/crc16.h>

#if defined(__AVR_ATmega328P__)
#define FSE_BOARD "nano"
#elif defined(__AVR_ATmega2560__)
#define FSE_BOARD "mega2560"
#else
#error "joystick_board supports the Arduino Nano (ATmega328P) and Mega 2560 only; pick one of those boards"
#endif

#if FSE_WATCHDOG
#define FSE_FIRMWARE FSE_FIRMWARE_VERSION
#else
#define FSE_FIRMWARE FSE_FIRMWARE_VERSION "-no-watchdog"   /* so the kiosk's diagnostics show it */
#endif

static const uint8_t AXIS_PINS[FSE_AXES] = {A0, A1, A2, A3, A4, A5, A6, A7};
static const uint8_t BUTTON_PINS[FSE_BUTTONS] = {2, 3, 4, 5, 6, 7};

static uint8_t seq = 0;
static uint8_t buttons = 0;                     /* debounced mask */
static uint8_t button_raw[FSE_BUTTONS];         /* last raw reading per button */
static unsigned long button_changed_ms[FSE_BUTTONS];
static unsigned long next_frame_ms;            /* the grid: frames go out at +FSE_REPORT_INTERVAL_MS */

/*
 * Runs before the C++ start-up (avr-libc's .init3): after a watchdog reset the chip keeps the
 * watchdog on at its shortest timeout, 16 ms, until software clears the reset flag. Optiboot does
 * this already; a board flashed without a bootloader (or the simulator) needs it here.
 */
void watchdog_off_at_boot(void) __attribute__((naked, used, section(".init3")));
void watchdog_off_at_boot(void) {
  MCUSR = 0;
  wdt_disable();
}

/* Collects one line, its CRC as it goes, and sends it with the checksum and newline. */
static char line[FSE_LINE_MAX];
static uint8_t line_len;

static void line_start(char type) {
  line_len = 0;
  line[line_len++] = type;
}

static void line_add(const char *text) {
  line[line_len++] = ',';
  while (*text && line_len < FSE_LINE_MAX - 5) line[line_len++] = *text++;
}

static void line_add_number(unsigned int value) {
  char digits[6];
  utoa(value, digits, 10);
  line_add(digits);
}

static void line_send() {
  static const char HEX_DIGITS[] = "0123456789ABCDEF";
  uint8_t crc = 0;
  for (uint8_t i = 0; i < line_len; i++) crc = _crc_ibutton_update(crc, line[i]);
  line[line_len++] = '*';
  line[line_len++] = HEX_DIGITS[crc >> 4];
  line[line_len++] = HEX_DIGITS[crc & 0x0F];
  line[line_len++] = '\n';
  Serial.write((const uint8_t *)line, line_len);
}

static void send_identity() {
  line_start('I');
  line_add_number(FSE_PROTOCOL_VERSION);
  line_add(FSE_FIRMWARE);
  line_add(FSE_BOARD);
  line_add_number(FSE_AXES);
  line_add_number(FSE_BUTTONS);
  line_send();
}

static void send_frame() {
  line_start('D');
  line_add_number(seq++);
  for (uint8_t k = 0; k < FSE_AXES; k++) line_add_number(analogRead(AXIS_PINS[k]));
  line_add_number(buttons);
  line_send();
}

/* True when the debounced mask changed: a raw level must hold FSE_DEBOUNCE_MS to count. */
static bool update_buttons(unsigned long now) {
  uint8_t mask = buttons;
  for (uint8_t k = 0; k < FSE_BUTTONS; k++) {
    uint8_t pressed = digitalRead(BUTTON_PINS[k]) == LOW;
    if (pressed != button_raw[k]) {
      button_raw[k] = pressed;
      button_changed_ms[k] = now;
    } else if (now - button_changed_ms[k] >= FSE_DEBOUNCE_MS) {
      mask = pressed ? (mask | (1 << k)) : (mask & ~(1 << k));
    }
  }
  bool changed = mask != buttons;
  buttons = mask;
  return changed;
}

/* At most one identity per pass, however many '?' wait: a flood of them must not starve the frames. */
static void serve_host() {
  bool asked = false;
  for (int waiting = Serial.available(); waiting > 0; waiting--) {
    if (Serial.read() == FSE_IDENTITY_REQUEST) asked = true;
  }
  if (asked) send_identity();
}

void setup() {
  for (uint8_t k = 0; k < FSE_BUTTONS; k++) pinMode(BUTTON_PINS[k], INPUT_PULLUP);
  Serial.begin(FSE_BAUD);
  Serial.write('\n');  /* ends a half line a reset cut off, so the host reads the identity whole */
  send_identity();
#if FSE_WATCHDOG
  wdt_enable(FSE_WATCHDOG_TIMEOUT);
#endif
  next_frame_ms = millis();
}

void loop() {
  wdt_reset();
  unsigned long now = millis();
  serve_host();
  /* A button change goes out at once, as an extra frame: the grid does not move for it. */
  if (update_buttons(now)) send_frame();
  /* Signed difference: the comparison survives millis() wrapping after 49 days. */
  if ((long)(now - next_frame_ms) >= 0) {
    next_frame_ms += FSE_REPORT_INTERVAL_MS;   /* not now + interval: that drifts by the lateness */
    if ((long)(now - next_frame_ms) >= 0) next_frame_ms = now + FSE_REPORT_INTERVAL_MS;  /* a whole interval behind: skip, don't burst */
    send_frame();
  }
}
