from ocipy.main import main

main()
