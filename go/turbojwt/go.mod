module turbojwt/go/turbojwt

go 1.19
