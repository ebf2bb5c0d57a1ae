"""One-shot NAS on scikit-learn's digits: a weight-sharing supernet CNN."""
