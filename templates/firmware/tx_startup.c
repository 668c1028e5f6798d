/*
 * tx_startup.c - vector table and reset handler for tinyexit firmware.
 *
 * Reset: copy .data from flash, zero .bss, enable the FPU when the build uses
 * one, set up I/O (semihosting or UART, see tx_io_*.c), run main() and hand
 * its return code to tx_exit(). Every fault lands in tx_fault_handler, which
 * reports the fault and the faulting PC and stops the program, so a simulator
 * run never hangs silently on a fault.
 */
#include <stdint.h>

#include "tx_io.h"

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
extern int main(void);

void Reset_Handler(void);
void tx_fault_entry(void);

/* Words 1..15 of the table: reset, then every system exception; then 32
 * interrupts, all to the fault handler (spelled out: ISO C has no range
 * initialiser). */
#define TX_NUM_IRQS 32
#define TX_IRQ4 tx_fault_entry, tx_fault_entry, tx_fault_entry, tx_fault_entry
#define TX_IRQ32 TX_IRQ4, TX_IRQ4, TX_IRQ4, TX_IRQ4, TX_IRQ4, TX_IRQ4, TX_IRQ4, TX_IRQ4
__attribute__((section(".isr_vector"), used))
void (*const tx_vector_table[16 + TX_NUM_IRQS])(void) = {
    (void (*)(void))(uintptr_t)&_estack,
    Reset_Handler,
    tx_fault_entry, /* NMI */
    tx_fault_entry, /* HardFault */
    tx_fault_entry, /* MemManage */
    tx_fault_entry, /* BusFault */
    tx_fault_entry, /* UsageFault */
    tx_fault_entry, /* SecureFault (ARMv8-M) */
    0, 0, 0,
    tx_fault_entry, /* SVCall */
    tx_fault_entry, /* DebugMonitor */
    0,
    tx_fault_entry, /* PendSV */
    tx_fault_entry, /* SysTick */
    TX_IRQ32,
};

void Reset_Handler(void)
{
    uint32_t *src = &_sidata;
    for (uint32_t *dst = &_sdata; dst < &_edata;) {
        *dst++ = *src++;
    }
    for (uint32_t *dst = &_sbss; dst < &_ebss;) {
        *dst++ = 0;
    }
#if defined(__ARM_FP)
    /* CPACR: full access to CP10 and CP11 (the FPU). */
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    tx_io_init();
    tx_exit(main());
}

/* Pass the stacked exception frame (MSP or PSP) to tx_fault_report. */
__attribute__((naked)) void tx_fault_entry(void)
{
    __asm__ volatile(
        "tst lr, #4\n\t"
        "ite eq\n\t"
        "mrseq r0, msp\n\t"
        "mrsne r0, psp\n\t"
        "mrs r1, ipsr\n\t"
        "b tx_fault_report\n\t");
}

static void put_hex(char *dst, uint32_t v)
{
    for (int i = 7; i >= 0; --i) {
        dst[i] = "0123456789abcdef"[v & 0xFu];
        v >>= 4;
    }
}

__attribute__((used, noreturn)) void tx_fault_report(const uint32_t *frame, uint32_t ipsr)
{
    static const char *const names[] = {"thread", "reset", "NMI", "HardFault", "MemManage", "BusFault",
                                        "UsageFault", "SecureFault", "?", "?", "?", "SVCall",
                                        "DebugMonitor", "?", "PendSV", "SysTick"};
    const char *name = (ipsr & 0x1FFu) < 16 ? names[ipsr & 0x1FFu] : "IRQ";
    /* "TX FAULT <name> pc=XXXXXXXX lr=XXXXXXXX cfsr=XXXXXXXX hfsr=XXXXXXXX\n" */
    char line[96];
    int n = 0;
    const char *head = "TX FAULT ";
    while (*head) {
        line[n++] = *head++;
    }
    while (*name) {
        line[n++] = *name++;
    }
    const char *labels[4] = {" pc=", " lr=", " cfsr=", " hfsr="};
    uint32_t values[4] = {frame[6], frame[5], *(volatile uint32_t *)0xE000ED28u, *(volatile uint32_t *)0xE000ED2Cu};
    for (int k = 0; k < 4; ++k) {
        for (const char *p = labels[k]; *p; ++p) {
            line[n++] = *p;
        }
        put_hex(line + n, values[k]);
        n += 8;
    }
    line[n++] = '\n';
    line[n] = '\0';
    tx_io_message(line);
    tx_exit(TX_EXIT_FAULT);
}
