package testenv

// TrustVariables is the list Main and UserEnv remove, for the tests.
var TrustVariables = trustVariables
