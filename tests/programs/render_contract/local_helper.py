"""A module local to the program directory, imported the way the language host allows."""

KEY_LIKE_VALUE = "-----BEGIN PRIVATE KEY-----\nnot a real key\n-----END PRIVATE KEY-----\n"
