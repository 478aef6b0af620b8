"""Classification data: Fashion-MNIST, scikit-learn digits, image folders (ImageNet layout)."""
