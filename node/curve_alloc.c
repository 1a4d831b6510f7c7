/*
 * curve_alloc.c — libsodium's guarded allocator, replaced in vledgerd by the
 * heap (with the memory wiped on free).
 *
 * libzmq 4.3.x (Debian 12's) builds every CURVE message's plaintext and box
 * in buffers from sodium_allocarray: each one an mmap of guard pages,
 * mprotect, mlock, and on free munlock, mprotect, munmap. The unmaps and
 * protection changes flush the TLB on every core the process runs on. At 128
 * nodes on this 2-core host those syscalls and flushes were ~10% of all CPU
 * while the network started (perf -a: mprotect and munmap under ZMQ's I/O
 * threads), for messages whose plaintext is public anyway: signed envelopes
 * of a ledger every member replicates. libzmq's maintainers chose guarded
 * memory for secrets, and meant to keep such allocations few because they
 * are costly (zeromq/libzmq#3576, #3580); libzmq keeps its CURVE keys in
 * ordinary members, so nothing secret loses protection here.
 *
 * The executable's definitions take precedence over libsodium's for every
 * library in the process (ELF symbol interposition); all three entry points
 * are replaced so that a block is always freed by the allocator that made
 * it. Nothing of ours calls them: gossip/ uses libsodium only to verify
 * signatures and convert keys.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

/* A header before each block holds its size, so sodium_free can wipe it;
 * 16 bytes keep the block aligned as malloc's is. */
#define CURVE_ALLOC_HEADER 16

void *
sodium_malloc(size_t size)
{
    if (size > SIZE_MAX - CURVE_ALLOC_HEADER) {
        errno = ENOMEM;
        return NULL;
    }
    uint8_t *p = malloc(size + CURVE_ALLOC_HEADER);
    if (!p)
        return NULL;
    memcpy(p, &size, sizeof size);
    return p + CURVE_ALLOC_HEADER;
}

void *
sodium_allocarray(size_t count, size_t size)
{
    if (count > 0 && size >= SIZE_MAX / count) {
        errno = ENOMEM;
        return NULL;
    }
    return sodium_malloc(count * size);
}

void
sodium_free(void *ptr)
{
    if (!ptr)
        return;
    uint8_t *p = (uint8_t *) ptr - CURVE_ALLOC_HEADER;
    size_t size;
    memcpy(&size, p, sizeof size);
    sodium_memzero(ptr, size);
    free(p);
}
