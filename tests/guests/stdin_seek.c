/* Seeks on stdin: fstat, fseek to the end, rewind, read, seek from the end, pread.
 * A regular file given as stdin allows all of it; a pipe refuses the seek (ESPIPE),
 * as on Linux. */
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
int main(void)
{
    struct stat st;
    int s = fstat(0, &st);
    printf("fstat %d regular %d size %lld\n", s, S_ISREG(st.st_mode), (long long)st.st_size);
    if (fseek(stdin, 0, SEEK_END)) {
        perror("fseek");
        return 1;
    }
    long end = ftell(stdin);
    rewind(stdin);
    char line[100];
    fgets(line, sizeof line, stdin);
    printf("end %ld first %s", end, line);
    fseek(stdin, -4, SEEK_END);
    fgets(line, sizeof line, stdin);
    printf("last4 %s", line);
    printf("pread %zd\n", pread(0, line, 3, 2));
    return 0;
}
