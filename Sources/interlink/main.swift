print("interlink")
