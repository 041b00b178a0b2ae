#include "recur_support.h"

static _Thread_local char message[RECUR_SUPPORT_MESSAGE_CAPACITY];

char *rsupport_message_buffer(void) { return message; }
