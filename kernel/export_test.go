package kernel

// Restartable exposes the restart rules to the tests in package kernel_test.
var Restartable = restartable
