// The libssh2 headers stagefix uses (the function-like macros are not imported: use the _ex forms).
#include <libssh2.h>
#include <libssh2_sftp.h>
