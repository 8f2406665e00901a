"""Policy administration: typed, versioned tenant policies. The PDP only reads them."""
