double blackbox(double x) { return x * x * x; }
