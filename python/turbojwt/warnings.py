"""Warning categories shared with PyJWT 2.x."""


class RemovedInPyjwt3Warning(DeprecationWarning):
    """A feature that PyJWT 3 (and a future turbojwt) will drop."""


class InsecureKeyLengthWarning(UserWarning):
    """A key is shorter than the recommended minimum for its algorithm."""
