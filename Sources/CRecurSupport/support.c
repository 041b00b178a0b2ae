#include "recur_support.h"

#include <pthread.h>

#include "../../include/recur.h"

static _Thread_local char message[RECUR_SUPPORT_MESSAGE_CAPACITY];

char *rsupport_message_buffer(void) { return message; }

const char *rsupport_version_string(void) { return RECUR_VERSION_STRING; }
int rsupport_version_number(void) { return RECUR_VERSION_NUMBER; }

rsupport_slot *rsupport_chunks[RSUPPORT_CHUNK_COUNT];

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;

void rsupport_registry_lock(void) { pthread_mutex_lock(&registry_lock); }
void rsupport_registry_unlock(void) { pthread_mutex_unlock(&registry_lock); }
