// placeholder loader
