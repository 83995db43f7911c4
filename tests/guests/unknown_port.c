/* Pokes a legacy I/O port (POST codes) that Tidal does not emulate. */
#include <stdint.h>

int main(void)
{
    __asm__ volatile("outb %0, $0x80" : : "a"((uint8_t)0x42));
    return 0;
}
