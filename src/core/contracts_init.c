/* src/core/contracts_init.c - the contract-checking build only (-DAIOTP_CHECK_CONTRACTS=ON,
   proofs/contracts.sh): start E-ACSL's runtime before main, since no instrumented main()
   does it. */
#include <stddef.h>

void __e_acsl_memory_init(int *argc_ref, char ***argv, size_t ptr_size);

static void aiotp__contracts_init(void) __attribute__((constructor));

static void aiotp__contracts_init(void)
{
    __e_acsl_memory_init(NULL, NULL, sizeof(void *));
}
