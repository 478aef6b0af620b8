"""Classification data: Fashion-MNIST, scikit-learn digits, image folders (any size; the ImageNet layout),
CIFAR-10/100, Hugging Face datasets on disk; the recipe's augmentation; the small-set decode cache."""
