/* Writes one byte to the port just below the call port (0x7e1). No KVM handles that
 * port in the kernel (the monitor creates no in-kernel devices), so every KVM hands
 * the write to the monitor, which must stop the guest rather than ignore it. A legacy
 * port such as 0x80 (POST codes) would not do: some KVMs absorb writes to it. */
#include <stdint.h>

int main(void)
{
    __asm__ volatile("outb %0, %1" : : "a"((uint8_t)0x42), "Nd"((uint16_t)0x7e0));
    return 0;
}
