/* Private C helpers for the Swift core; not part of the public API. */
#ifndef RECUR_SUPPORT_H
#define RECUR_SUPPORT_H
#include <stddef.h>

/* Capacity of the thread-local detail message, including the NUL. */
#define RECUR_SUPPORT_MESSAGE_CAPACITY 512

/* This thread's detail-message buffer (Swift has no thread_local storage). */
char *rsupport_message_buffer(void);

#endif
