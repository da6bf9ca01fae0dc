// ImageSet
