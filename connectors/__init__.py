"""Portal connectors: one module (or package) per portal family, the base contract, and the sandbox portals."""
