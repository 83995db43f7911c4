/* hlt with interrupts off: nothing can ever wake this vCPU. */
int main(void)
{
    for (;;)
        __asm__ volatile("hlt");
}
