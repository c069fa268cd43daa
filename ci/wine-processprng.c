/* A stand-in for Windows' bcryptprimitives.dll, for ci/windows-check.sh only: Rust's standard
 * library gets its random bytes from ProcessPrng in that DLL (present since Windows 10), and
 * Wine before 9.0 (Debian 12 ships 8.0) has no such DLL, so the .exe would not even load. This
 * forwards to RtlGenRandom, which every Wine has. Never shipped: the check puts it beside a copy
 * of the .exe in its own work folder. */
#include <windows.h>
#include <ntsecapi.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x7fffffff ? 0x7fffffff : (ULONG)len;
        if (!RtlGenRandom(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
