// SPDX-License-Identifier: MIT
/*
 * How a consumer reads a key that est-enroll stored, with libkeyutils: the example of
 * est-enroll-keyring(7). Build: cc read-key.c -lkeyutils.
 *
 *   read-key KEYRING ALIAS      as root: find KEYRING (est:NAME) in root's user keyring, then
 *                               ALIAS in it
 *   read-key -s FILE ALIAS      as a member of the keystore's group: the serial of ALIAS from
 *                               the serials file FILE (/run/est-enroll/NAME.keys)
 *
 * Writes the payload (PEM) to stdout; exit 0, or 1 with the reason on stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <keyutils.h>

/* The serial of ALIAS in a NAME.keys file ("ALIAS SERIAL" lines), or -1. */
static key_serial_t serial_from_file(const char *file, const char *alias)
{
	char name[256];
	long serial;
	key_serial_t found = -1;
	FILE *f = fopen(file, "r");

	if (!f)
		return -1;
	while (fscanf(f, "%255s %ld", name, &serial) == 2)
		if (strcmp(name, alias) == 0)
			found = (key_serial_t)serial;
	fclose(f);
	if (found < 0)
		errno = ENOKEY;
	return found;
}

/* The serial of ALIAS in the named keyring KEYRING of the caller's user keyring, or -1. */
static key_serial_t serial_by_name(const char *keyring, const char *alias)
{
	key_serial_t kr = keyctl_search(KEY_SPEC_USER_KEYRING, "keyring", keyring, 0);

	if (kr < 0)
		return -1;
	return keyctl_search(kr, "user", alias, 0);
}

int main(int argc, char **argv)
{
	key_serial_t id;
	void *payload = NULL;
	long len;
	int r = 1;

	if (argc == 4 && strcmp(argv[1], "-s") == 0)
		id = serial_from_file(argv[2], argv[3]);
	else if (argc == 3)
		id = serial_by_name(argv[1], argv[2]);
	else {
		fprintf(stderr, "usage: read-key KEYRING ALIAS | read-key -s SERIALS-FILE ALIAS\n");
		return 2;
	}
	if (id < 0) {
		fprintf(stderr, "read-key: %s: %s\n", argv[argc - 1], strerror(errno));
		return 1;
	}
	/* The keyring is switched whole when the store changes: a serial read a moment ago may be
	 * gone (ENOKEY, EKEYREVOKED). Look it up again then, by name or in the serials file. */
	len = keyctl_read_alloc(id, &payload);
	if (len < 0) {
		fprintf(stderr, "read-key: key %d: %s\n", (int)id, strerror(errno));
		return 1;
	}
	if (fwrite(payload, 1, (size_t)len, stdout) == (size_t)len && fflush(stdout) == 0)
		r = 0;
	/* A private key: wipe it before the memory goes back. */
	explicit_bzero(payload, (size_t)len);
	free(payload);
	return r;
}
