from decart_entry import main

main()
